"""The shadow schema a replay rebuilds into, and the swap of its rows into the live tables."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from services.common.projections import (
    BUMP_VERSION,
    CASES,
    DEPARTMENTS,
    LIVE,
    TABLES,
    YEAR_TABLES,
)
from services.performance.replay.cases import WORK_MEM
from services.performance.replay.part import Part
from services.performance.replay.scope import Progress, Scope
from services.performance.store import write


async def create_shadow(conn: asyncpg.Connection, schema: str) -> None:
    """A fresh schema with the projection tables, as declared (what a crashed replay left is
    dropped). Unlogged: nothing of it goes to the WAL, which a crash empties; a replay that
    a crash interrupts is run again anyway (``keep`` makes a snapshot's tables logged)."""
    async with conn.transaction():
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(f"CREATE SCHEMA {schema}")
        for table in TABLES:
            await conn.execute(table.create_sql(schema))


async def keep(conn: asyncpg.Connection, schema: str) -> None:
    """A rebuilt snapshot made durable: its tables written to the WAL (logged)."""
    for table in TABLES:
        await conn.execute(f"ALTER TABLE {schema}.{table.name} SET LOGGED")


async def swap(perf: asyncpg.Pool, ledger: asyncpg.Pool, scope: Scope,
               started: Mapping[str, int], progress: Progress, done: int) -> None:  # fmt: skip
    """Catch up with the live projections and replace the year's live rows, atomically."""
    async with perf.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"SELECT department, position FROM {LIVE}.applied_positions ORDER BY department "
            "FOR UPDATE"
        )  # the live consumer waits until the swap commits
        catch_up = Part(perf, ledger, scope, progress=lambda n: progress(done + n, done + n))
        await catch_up.stream(started, {r["department"]: r["position"] for r in rows})
        await write(conn, catch_up.projection, scope.schema)
        await _replace_year(conn, scope)
        await conn.execute(f"DROP SCHEMA {scope.schema} CASCADE")


async def _replace_year(conn: asyncpg.Connection, scope: Scope) -> None:
    """The year's live rows made the shadow's, writing only the difference (a replay that
    finds the live projections right writes nothing); its departments upserted."""
    year, shadow = (scope.fiscal_year, scope.department), scope.schema
    await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")  # the differences by hashing
    for table in YEAR_TABLES:
        columns = ", ".join(table.column_names)
        keys = " AND ".join(f"s.{k} = t.{k}" for k in table.key_names)
        same = ", ".join(f"s.{c}" for c in table.column_names)
        same = f"({same}) IS NOT DISTINCT FROM ({', '.join(f't.{c}' for c in table.column_names)})"
        # the live rows the shadow does not hold as they are (gone, or changed) ...
        await conn.execute(
            f"""DELETE FROM {LIVE}.{table.name} t WHERE {table.of_year(LIVE)} AND NOT EXISTS
                (SELECT FROM {shadow}.{table.name} s WHERE {keys} AND {same})""",
            *year,
        )
        if table is CASES:  # rows of a version that kept no fiscal year
            await conn.execute(
                f"""DELETE FROM {LIVE}.cases t USING {shadow}.cases s
                    WHERE (t.department, t.case_id) = (s.department, s.case_id)
                      AND t.fiscal_year IS DISTINCT FROM s.fiscal_year"""
            )
        # ... and the shadow's rows the live tables do not hold
        await conn.execute(
            f"""INSERT INTO {LIVE}.{table.name} ({columns}) SELECT {columns}
                FROM {shadow}.{table.name} s
                WHERE NOT EXISTS (SELECT FROM {LIVE}.{table.name} t WHERE {keys})"""
        )
    columns = ", ".join(DEPARTMENTS.column_names)
    await conn.execute(
        DEPARTMENTS.upsert_sql(LIVE, f"SELECT {columns} FROM {shadow}.{DEPARTMENTS.name}")
    )
    await conn.execute(BUMP_VERSION.format(LIVE))  # the gateway's cached answers are old
