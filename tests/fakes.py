"""In-memory fakes of the services' store interfaces, for unit tests of their handlers
without a database. Each fake mimics its PostgreSQL store closely: a transaction commits
when its block succeeds and keeps nothing when it raises; unique keys are enforced."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events import DEFAULT_FUNDING_SOURCE
from schemas.messages import ReversedDisbursement
from services.ledger.ports import ConcurrencyConflict
from services.ledger.records import Coordinates, Decision, Held, InboundRecord, Refused


class UniqueViolation(Exception):
    """What PostgreSQL would raise on a duplicate key."""


# --- ledger: services.ledger.ports.LedgerStore ------------------------------------------------


@dataclass
class StoredEvent:
    """A row of ledger.events."""

    position: int
    event_id: str
    content_hash: bytes
    stream_id: str
    stream_version: int
    event_type: str
    department: str
    payload: str
    context: dict[str, Any]  # as the jsonb column holds it
    source: tuple[str, int, int]


@dataclass
class StoredRejection:
    """A row of ledger.rejections."""

    rejection_id: int
    coordinates: Coordinates
    raw: bytes
    reason: str
    field: str | None
    message: str
    event_id: str | None
    department: str | None
    resubmitted_event_id: str | None = None
    resolved_position: int | None = None


@dataclass
class LedgerTables:
    """The ledger schema's tables (sequences are the store's: like PostgreSQL's, a rolled
    back transaction does not give its numbers back)."""

    events: list[StoredEvent] = field(default_factory=list)
    streams: dict[str, tuple[int, str]] = field(default_factory=dict)  # version, state JSON
    rejections: list[StoredRejection] = field(default_factory=list)
    pending: dict[int, Held] = field(default_factory=dict)


class FakeLedgerStore:
    """``LedgerStore`` in memory. ``fail_appends``: how many next appends raise (after having
    written their decision into the transaction, which is then rolled back)."""

    def __init__(self) -> None:
        self.tables = LedgerTables()
        self.notifications = 0  # relay wake-ups (pg_notify) committed
        self.fail_appends = 0
        self._serials = {"position": 0, "rejection_id": 0, "pending_id": 0}
        self._append_lock = asyncio.Lock()

    @asynccontextmanager
    async def batch(self, departments: Iterable[str]) -> AsyncIterator[FakeLedgerBatch]:
        async with self._append_lock:  # one batch at a time, whatever its departments
            work = FakeLedgerBatch(self, copy.deepcopy(self.tables))
            yield work
            self.tables = work.tables  # commit
            self.notifications += work.notifications

    async def has_expired(self, held_before: datetime) -> bool:
        return any(h.held_since <= held_before for h in self.tables.pending.values())

    def next(self, serial: str) -> int:
        self._serials[serial] += 1
        return self._serials[serial]

    # what tests read

    def accepted_ids(self) -> list[str]:
        return [e.event_id for e in sorted(self.tables.events, key=lambda e: e.position)]

    def rejected(self) -> list[tuple[str, str | None]]:
        """(reason, event_id) of every rejection, in order."""
        return [(r.reason, r.event_id) for r in self.tables.rejections]


class FakeLedgerBatch:
    """``LedgerBatch``: a transaction on a copy of the tables."""

    def __init__(self, store: FakeLedgerStore, tables: LedgerTables) -> None:
        self.store, self.tables = store, tables
        self.notifications = 0

    async def judged_records(self, records: Sequence[InboundRecord]) -> set[Coordinates]:
        judged = {r.coordinates for r in self.tables.rejections}
        judged |= {h.record.coordinates for h in self.tables.pending.values()}
        return judged & {r.coordinates for r in records}

    async def pending(
        self, waits_for: Iterable[str], expired_before: datetime | None = None
    ) -> list[Held]:
        keys = set(waits_for)
        found = [
            h
            for h in self.tables.pending.values()
            if h.waits_for in keys
            or (expired_before is not None and h.held_since <= expired_before)
        ]
        return sorted(found, key=lambda h: (h.held_since, h.pending_id or 0))

    async def known_hashes(self, event_ids: list[str]) -> dict[str, bytes]:
        wanted = set(event_ids)
        return {e.event_id: e.content_hash for e in self.tables.events if e.event_id in wanted}

    async def disbursements(self, event_ids: list[str]) -> dict[str, ReversedDisbursement]:
        wanted, found = set(event_ids), {}
        for e in self.tables.events:
            if e.event_id in wanted and e.event_type == "Disbursed":
                data = json.loads(e.payload)["data"]
                found[e.event_id] = ReversedDisbursement(
                    line_id=data["line_id"],
                    amount=data["amount"],
                    economic_class=data["economic_class"],
                    spending_department=data.get("spending_department") or e.department,
                    funding_source=data.get("funding_source", DEFAULT_FUNDING_SOURCE),
                )
        return found

    async def load_streams(
        self, stream_ids: Iterable[str]
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        streams = self.tables.streams
        return {
            sid: (streams[sid][0], json.loads(streams[sid][1]))
            for sid in stream_ids
            if sid in streams
        }

    async def append(self, decision: Decision) -> None:
        self._insert_events(decision)
        self._save_streams(decision)
        for refused in decision.refused:
            self._insert_rejection(refused)
        for pending_id in decision.released:
            self.tables.pending.pop(pending_id, None)
        for held in decision.held:
            if held.pending_id is None:
                self._insert_held(held)
        self._resolve_rejections([a.event.event_id for a in decision.accepted])
        if decision.accepted or decision.refused:
            self.notifications += 1
        if self.store.fail_appends:
            self.store.fail_appends -= 1
            raise ConnectionError("the fake database went away mid-transaction")

    def _insert_events(self, decision: Decision) -> None:
        ids = {e.event_id for e in self.tables.events}
        versions = {(e.stream_id, e.stream_version) for e in self.tables.events}
        for a in decision.accepted:
            if a.event.event_id in ids or (a.stream_id, a.stream_version) in versions:
                raise UniqueViolation(f"event {a.event.event_id} / {a.stream_id}")
            ids.add(a.event.event_id)
            versions.add((a.stream_id, a.stream_version))
            self.tables.events.append(
                StoredEvent(
                    self.store.next("position"),
                    a.event.event_id,
                    a.content_hash,
                    a.stream_id,
                    a.stream_version,
                    a.event.event_type,
                    a.event.department,
                    a.payload,
                    json.loads(a.context.model_dump_json(exclude_none=True)),
                    (a.record.topic, a.record.partition, a.record.offset),
                )
            )

    def _save_streams(self, decision: Decision) -> None:
        for sid, aggregate in decision.aggregates.items():
            expected = decision.expected_versions[sid]
            if aggregate.version == expected:
                continue
            stored = self.tables.streams.get(sid)
            if expected == 0 and stored is not None:
                raise UniqueViolation(f"stream {sid}")
            if expected != 0 and (stored is None or stored[0] != expected):
                raise ConcurrencyConflict(f"{sid}: version {expected} expected")
            self.tables.streams[sid] = (aggregate.version, json.dumps(aggregate.state()))

    def _insert_rejection(self, refused: Refused) -> None:
        record = refused.record
        if any(r.coordinates == record.coordinates for r in self.tables.rejections):
            return  # ON CONFLICT DO NOTHING
        self.tables.rejections.append(
            StoredRejection(
                self.store.next("rejection_id"),
                record.coordinates,
                record.value or b"",
                refused.reason,
                refused.field,
                refused.message,
                refused.event_id,
                refused.department,
            )
        )

    def _insert_held(self, held: Held) -> None:
        if any(
            h.record.coordinates == held.record.coordinates for h in self.tables.pending.values()
        ):
            raise UniqueViolation(f"pending {held.record.coordinates[:3]}")
        pending_id = self.store.next("pending_id")
        self.tables.pending[pending_id] = dataclasses.replace(held, pending_id=pending_id)

    def _resolve_rejections(self, accepted_ids: list[str]) -> None:
        accepted = set(accepted_ids)
        positions = {e.event_id: e.position for e in self.tables.events if e.event_id in accepted}
        for r in self.tables.rejections:
            if r.resolved_position is not None:
                continue
            if r.resubmitted_event_id in accepted or (
                r.event_id in accepted and r.reason != "duplicate_event_id_conflict"
            ):
                found = [
                    positions[i] for i in (r.event_id, r.resubmitted_event_id) if i in positions
                ]
                r.resolved_position = found[0] if found else None
