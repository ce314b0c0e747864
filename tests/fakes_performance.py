"""The performance service's store in memory, and typed journal entries made from the few
fields a test cares about."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from schemas.messages import JournalEntry
from services.common.projections import APPLIED_POSITIONS, CASES, TABLES, Merge, Table
from services.performance.projector import BatchProjection, Case, CaseKey

Rows = dict[tuple[Any, ...], tuple[Any, ...]]  # key -> values, of one table


def merged(table: Table, rows: Rows, row: Sequence[Any]) -> None:
    """A row written to a table's rows as the declaration says (what the upserts do)."""
    key, values = tuple(row[: len(table.key)]), tuple(row[len(table.key) :])
    if key not in rows or table.merge is Merge.REPLACE:
        rows[key] = values
    elif table.merge is Merge.ADD:
        rows[key] = tuple(a + b for a, b in zip(rows[key], values, strict=True))


class InMemoryBatch:
    """A transaction on the fake's tables (see ``handler.ProjectionBatch``)."""

    def __init__(self, tables: dict[str, Rows]) -> None:
        self.tables = tables
        self.locked: set[str] = set()

    async def lock_positions(self, departments: Sequence[str]) -> dict[str, int]:
        positions = self.tables[APPLIED_POSITIONS.name]
        self.locked.update(departments)
        return {d: positions.get((d,), (0,))[0] for d in departments}

    async def load_cases(self, keys: Collection[CaseKey]) -> dict[CaseKey, Case]:
        stored = self.tables[CASES.name]
        return {
            key: dict(zip(CASES.column_names, (*key, *stored[key]), strict=True))
            for key in keys
            if key in stored
        }

    async def write(self, projection: BatchProjection) -> None:
        for table, rows in projection.rows():
            for row in rows:
                merged(table, self.tables[table.name], row)

    async def save_positions(self, positions: Mapping[str, int]) -> None:
        assert set(positions) <= self.locked, "positions saved of departments not locked"
        for department, position in positions.items():
            merged(APPLIED_POSITIONS, self.tables[APPLIED_POSITIONS.name], (department, position))


class InMemoryProjections:
    """The declared projection tables as dictionaries (key -> values), merged as declared;
    one transaction at a time, rolled back if it raises (see ``handler.ProjectionStore``)."""

    def __init__(self) -> None:
        self.tables: dict[str, Rows] = {table.name: {} for table in TABLES}
        self.lock = asyncio.Lock()
        self.transactions = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InMemoryBatch]:
        async with self.lock:
            working = copy.deepcopy(self.tables)
            yield InMemoryBatch(working)
            self.tables = working  # committed: nothing of it is seen before
            self.transactions += 1

    def rows(self, table: Table) -> dict[tuple[Any, ...], dict[str, Any]]:
        """A table's rows, key -> values by column name."""
        return {
            key: dict(zip(table.value_names, values, strict=True))
            for key, values in self.tables[table.name].items()
        }


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {value!r}")


def typed(entry: Mapping[str, Any], position: int | None = None) -> JournalEntry:
    """A journal entry given as ``{"position", "event": {"event_type", "department",
    "fiscal_year", "occurred_at", "data"}, "context"}``, the other fields filled in, parsed
    as the performance service parses the journal."""
    position = entry.get("position", 0) if position is None else position
    event = {"event_id": f"e{position}", "schema_version": 1, "source": "test", **entry["event"]}
    message = {
        "position": position,
        "stream_id": f"test:{event['department']}",
        "stream_version": position,
        "recorded_at": event["occurred_at"],
        "event": event,
        "context": entry.get("context") or {},
    }
    return JournalEntry.model_validate_json(json.dumps(message, default=_json))


def typed_all(entries: Sequence[Mapping[str, Any]]) -> list[JournalEntry]:
    return [typed(entry) for entry in entries]


def entry(
    position: int,
    event_type: str,
    at: str,
    department: str = "D1",
    context: Mapping[str, Any] | None = None,
    fiscal_year: int = 2017,
    **data: Any,
) -> JournalEntry:
    """A typed journal entry of an event of ``department`` at a time (ISO, with offset)."""
    event = {"event_type": event_type, "department": department, "fiscal_year": fiscal_year,
             "occurred_at": at, "data": data}  # fmt: skip
    return typed({"position": position, "event": event, "context": context})
