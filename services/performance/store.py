"""Adapter: the performance projections in PostgreSQL (schema ``performance``, or a replay's
shadow schema with the same tables).

Every write goes through ``write_rows``: one bulk upsert per table, its SQL derived from the
table's declaration (services/common/projections.py), its columns named.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

import asyncpg

from schemas.messages import JournalEntry
from services.common.projections import APPLIED_POSITIONS, CASES, LIVE, Table
from services.performance import handler
from services.performance.projector import CASE_COLUMNS, BatchProjection, Case, CaseKey, Row


async def write_rows(
    conn: asyncpg.Connection, schema: str, table: Table, rows: Sequence[Row]
) -> None:
    """Insert rows (tuples in the table's column order), merged as the table declares with
    those already there (added up, replaced, or kept)."""
    if not rows:
        return
    columns = [list(column) for column in zip(*rows, strict=True)]
    for i, column in enumerate(table.columns):
        if column.sql_type == "jsonb":  # as JSON text: a list would be an array's dimension
            columns[i] = [None if v is None else json.dumps(v, ensure_ascii=False)
                          for v in columns[i]]  # fmt: skip
    await conn.execute(table.upsert_sql(schema), *columns)


async def write(conn: asyncpg.Connection, p: BatchProjection, schema: str = LIVE) -> None:
    """Add a projection's rows to the tables of ``schema`` (the live one, or a replay's)."""
    for table, rows in p.rows():
        await write_rows(conn, schema, table, rows)


async def load_cases(
    conn: asyncpg.Connection, keys: Collection[CaseKey], schema: str = LIVE
) -> dict[CaseKey, Case]:
    """The stored rows of these cases (those there are)."""
    if not keys:
        return {}
    rows = await conn.fetch(
        f"""
        SELECT {", ".join(CASE_COLUMNS)} FROM {schema}.{CASES.name}
        WHERE (department, case_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(row["department"], row["case_id"]): dict(row) for row in rows}


class PostgresBatch:
    """One transaction on the projections (see ``handler.ProjectionBatch``)."""

    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn, self.schema = conn, schema

    async def lock_positions(self, departments: Sequence[str]) -> dict[str, int]:
        # Row locks on the departments' positions: two consumers (e.g. during a rebalance)
        # never apply the same department's entries concurrently.
        table = f"{self.schema}.{APPLIED_POSITIONS.name}"
        await self.conn.execute(
            f"""INSERT INTO {table} (department, position)
                SELECT unnest($1::text[]), 0 ON CONFLICT DO NOTHING""",
            sorted(departments),
        )
        rows = await self.conn.fetch(
            f"""SELECT department, position FROM {table}
                WHERE department = ANY($1::text[]) ORDER BY department FOR UPDATE""",
            list(departments),
        )
        return {row["department"]: row["position"] for row in rows}

    async def load_cases(self, keys: Collection[CaseKey]) -> dict[CaseKey, Case]:
        return await load_cases(self.conn, keys, self.schema)

    async def write(self, projection: BatchProjection) -> None:
        await write(self.conn, projection, self.schema)

    async def save_positions(self, positions: Mapping[str, int]) -> None:
        await write_rows(self.conn, self.schema, APPLIED_POSITIONS, list(positions.items()))


class PostgresProjections:
    """The projections of a schema in PostgreSQL (see ``handler.ProjectionStore``)."""

    def __init__(self, pool: asyncpg.Pool, schema: str = LIVE) -> None:
        self.pool, self.schema = pool, schema

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresBatch]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PostgresBatch(conn, self.schema)


async def apply_entries(
    pool: asyncpg.Pool, entries: Sequence[JournalEntry], timezone: ZoneInfo
) -> int:
    """Apply journal entries to the live projections in PostgreSQL (``handler.apply_entries``)."""
    return await handler.apply_entries(PostgresProjections(pool), entries, timezone)


async def applied_by_department(conn: asyncpg.Connection) -> int:
    """The sum over departments of the last journal position applied to the projections."""
    return int(
        await conn.fetchval(
            f"SELECT coalesce(sum(position), 0) FROM {LIVE}.{APPLIED_POSITIONS.name}"
        )
    )
