"""Replay: rebuild a fiscal year's projections from the ledger's event store (the log of
record), and the projection digest that proves a rebuild equal to the live projections.

A replay streams the year's accepted events in ledger order (a server-side cursor, thousands
of rows per round trip) through the same ``BatchProjection`` the live service uses, into
shadow tables (a schema of their own). Worker processes share the work: each takes the cases
whose stream hashes to it (the first also every other event); the projection is additive,
so their rows sum to the year's. Daily buckets stay in memory (they are bounded by
days × dimensions); a case leaves memory once closed (no event can change it after), so
memory does not grow with the year. Then, in one transaction, it swaps the year's rows into
the live tables: the live projections change all at once or not at all, and a replay that
dies half-way leaves them untouched.

The live service keeps consuming meanwhile. A replay reads, per department, exactly the
events the live projections had applied when it started; at the swap it locks the applied
positions (the live consumer waits), catches up to them, and swaps, so the rebuilt year
holds exactly what the live one held.

``until`` rebuilds the year as it stood at a past moment, from the events the ledger had
recorded by then, into a snapshot schema that is kept (and never swapped in).
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import operator
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from services.common.db import create_pool
from services.performance.projector import (
    CASE_COLUMNS,
    CASE_COUNTS,
    LINE_MEASURES,
    BatchProjection,
)
from services.performance.store import load_cases, write, write_cases

LIVE = "performance"
_case_row = operator.itemgetter(*CASE_COLUMNS)
SCHEMA_SQL = Path(__file__).with_name("schema.sql")


@dataclass(frozen=True)
class YearTable:
    """A projection table whose rows belong to one fiscal year (and one department)."""

    name: str
    key: tuple[str, ...]
    values: tuple[str, ...] = ()
    by_line: bool = False  # its rows belong to a year through their budget line

    @property
    def columns(self) -> tuple[str, ...]:
        return self.key + self.values

    def of_year(self, schema: str) -> str:
        """SQL: the rows of year $1 (and department $2 unless null), the table aliased t."""
        if self.by_line:
            return f"""t.line_id IN (SELECT line_id FROM {schema}.lines
                       WHERE fiscal_year = $1 AND ($2::text IS NULL OR department = $2))"""
        return "t.fiscal_year = $1 AND ($2::text IS NULL OR t.department = $2)"


_CASE_KEY = ("department", "fiscal_year", "dimension", "value")
# in dependency order: a table read to select another's rows comes after it
YEAR_TABLES = (
    YearTable("line_daily", ("line_id", "day"), LINE_MEASURES, by_line=True),
    YearTable(
        "line_spending_daily",
        ("line_id", "day", "economic_class", "spending_department"),
        ("spent",),
        by_line=True,
    ),
    YearTable(
        "lines",
        ("line_id",),
        ("department", "fiscal_year", "title", "category", "funding_source", "sangong"),
    ),  # fmt: skip
    YearTable("cases", ("department", "case_id"), CASE_COLUMNS[2:]),
    YearTable("case_daily", (*_CASE_KEY, "day"), CASE_COUNTS),
    YearTable(
        "case_deadlines", (*_CASE_KEY, "deadline_day", "closed_day", "since_day"), ("cases",)
    ),
    YearTable(
        "targets",
        ("department", "target_id"),
        (
            "fiscal_year",
            "line_id",
            "level1",
            "level2",
            "name",
            "metric",
            "comparator",
            "value",
            "unit",
            "weight",
        ),
    ),  # fmt: skip
    YearTable(
        "outputs_daily",
        ("department", "fiscal_year", "indicator", "unit", "line_id", "day"),
        ("quantity",),
    ),
    YearTable(
        "assessment_schemes",
        ("department", "position"),
        ("fiscal_year", "effective_month", "set_day", "indicators", "document"),
    ),  # fmt: skip
)
DEPARTMENT_COLUMNS = ("code", "name", "parent", "headcount_authorised", "headcount_actual")


async def digest(
    conn: asyncpg.Connection, fiscal_year: int, department: str | None = None, schema: str = LIVE
) -> str:
    """A stable hash (sha256, hex) of a year's projection rows, in key order: equal digests,
    equal projections. Numbers are compared by value (1.50 = 1.5), times in UTC."""
    types = await _column_types(conn, schema)
    parts = []
    for table in YEAR_TABLES:
        cells = []
        for column in table.columns:
            kind = types[(table.name, column)]
            value = {"numeric": f"trim_scale(t.{column})",
                     "timestamp with time zone": f"t.{column} AT TIME ZONE 'UTC'"}.get(
                kind, f"t.{column}")  # fmt: skip
            cells.append(f"coalesce(({value})::text, '∅')")
        order = ", ".join(f"t.{c}" for c in table.key)
        part = await conn.fetchval(
            f"""SELECT encode(sha256(convert_to(coalesce(
                    string_agg(concat_ws('|', {", ".join(cells)}), E'\\n' ORDER BY {order}),
                    ''), 'UTF8')), 'hex')
                FROM {schema}.{table.name} t WHERE {table.of_year(schema)}""",
            fiscal_year,
            department,
        )
        parts.append(f"{table.name}:{part}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


async def _column_types(conn: asyncpg.Connection, schema: str) -> dict[tuple[str, str], str]:
    rows = await conn.fetch(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = $1""",
        schema,
    )
    return {(r["table_name"], r["column_name"]): r["data_type"] for r in rows}


@dataclass
class Replayed:
    events: int
    seconds: float
    digest: str
    schema: str  # where the rebuilt rows are: the live schema after a swap, or the snapshot


Progress = Callable[[int, int], None]  # (events done, events in all)


@dataclass(frozen=True)
class Scope:
    """What a replay rebuilds, and where."""

    fiscal_year: int
    department: str | None
    until: datetime | None
    timezone: str
    chunk: int
    flush_every: int = 500_000  # events after which a part adds its daily buckets to the
    # shadow and starts them afresh (memory stays flat whatever the number of departments)

    @property
    def schema(self) -> str:
        """The shadow schema of a swap, or the snapshot of a replay until a moment."""
        tag = "all"
        if self.department is not None:
            tag = re.sub(r"[^a-z0-9]+", "_", self.department.lower())[:24]
        if self.until is None:
            return f"{LIVE}_replay_{self.fiscal_year}_{tag}"
        moment = self.until.astimezone(ZoneInfo(self.timezone))
        return f"{LIVE}_{self.fiscal_year}_{tag}_at_{moment:%Y%m%dt%H%M%S}"

    def events(
        self, since: dict[str, int] | None, upto: dict[str, int] | None
    ) -> tuple[str, list[Any]]:
        """SQL (FROM ... WHERE) and arguments of the events in scope: per department, those
        with a position in (since, upto]; with no bounds, all (those recorded by ``until``)."""
        bounds = upto or {}
        args = [
            self.fiscal_year,
            self.department,
            self.until,
            upto is None,
            list(bounds),
            list(bounds.values()),
            [(since or {}).get(d, 0) for d in bounds],
        ]
        sql = """FROM ledger.events e
            LEFT JOIN unnest($5::text[], $6::bigint[], $7::bigint[]) AS b(department, upto, since)
                ON b.department = e.department
            WHERE e.fiscal_year = $1 AND ($2::text IS NULL OR e.department = $2)
              AND ($3::timestamptz IS NULL OR e.recorded_at <= $3)
              AND ($4 OR (e.position > b.since AND e.position <= b.upto))"""
        return sql, args


class _Part:
    """One process's part of a replay: every case whose stream hashes to its share (and, for
    share 0, every other event), projected into the shadow. The projection is additive, so
    the parts' rows sum to the whole year's."""

    def __init__(
        self,
        perf: asyncpg.Pool,
        ledger: asyncpg.Pool,
        scope: Scope,
        share: tuple[int, int] = (0, 1),
        progress: Callable[[int], None] = lambda done: None,
    ) -> None:
        self.perf, self.ledger, self.scope, self.share = perf, ledger, scope, share
        self.progress = progress
        self.projection = BatchProjection(ZoneInfo(scope.timezone), {})
        self.stored: set[tuple[str, str]] = set()  # open cases written to the shadow
        self.done = 0

    async def stream(
        self, since: dict[str, int] | None, upto: dict[str, int] | None, catch_up: bool = False
    ) -> None:
        """Apply this part's events in scope, in ledger order. A case not in memory comes from
        the shadow; while rebuilding, after every ``chunk`` events the cases go to the shadow
        (see ``flush``), so memory holds one chunk's cases whatever the year's size."""
        scope, args = self.scope.events(since, upto)
        index, parts = self.share
        scope += f""" AND ({parts} = 1 OR CASE WHEN e.stream_id LIKE 'case:%'
                          THEN (hashtext(e.stream_id) & 2147483647) % {parts} = {index}
                          ELSE {index} = 0 END)"""
        p, schema = self.projection, self.scope.schema
        async with (
            self.ledger.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            cursor = await conn.cursor(
                f"SELECT e.position, e.payload::text, e.context::text {scope} ORDER BY e.position",
                *args,
            )
            while rows := await cursor.fetch(self.scope.chunk):
                entries = [
                    {"position": position, "event": orjson.loads(payload),
                     "context": {} if context == "{}" else orjson.loads(context)}
                    for position, payload, context in rows
                ]  # fmt: skip
                reported = {
                    (e["event"]["department"], e["event"]["data"]["case_id"])
                    for e in entries
                    if e["event"]["event_type"] == "CaseReported"
                }
                async with self.perf.acquire() as perf:
                    known = p.cases.keys() | reported
                    p.cases.update(await load_cases(perf, entries, schema, known))
                    for entry in entries:
                        p.apply(entry)
                    if not catch_up:
                        await self.flush(perf)
                self.done += len(rows)
                if not catch_up and self.done % self.scope.flush_every < len(rows):
                    await self.finish()  # the daily buckets too: memory stays flat
                    p = self.projection = BatchProjection(p.timezone, {})
                self.progress(self.done)

    async def flush(self, conn: asyncpg.Connection, everything: bool = False) -> None:
        """Write cases to the shadow and forget them: those closed (no stage follows a
        closure), and those no event of the last chunk touched (or, at the end, all)."""
        p = self.projection
        done = [
            key
            for key, case in p.cases.items()
            if everything or case["closed_at"] is not None or key not in p.touched_cases
        ]
        new = [p.cases[key] for key in done if key not in self.stored]
        again = [p.cases[key] for key in done if key in self.stored]
        if new:
            await conn.copy_records_to_table(
                "cases", schema_name=self.scope.schema, columns=CASE_COLUMNS,
                records=[_case_row(case) for case in new],
            )  # fmt: skip
        if again:
            await write_cases(conn, again, self.scope.schema)
        for key in done:
            if p.cases.pop(key)["closed_at"] is None:
                self.stored.add(key)  # open: an event may bring it back
            else:
                self.stored.discard(key)
        p.touched_cases.clear()

    async def finish(self) -> None:
        """Add what is still in memory to the shadow, one part at a time (additive upserts
        of parts running at once could deadlock)."""
        async with self.perf.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('replay-finish'))")
            await self.flush(conn, everything=True)
            await write(conn, self.projection, self.scope.schema)


async def _pools(dsns: tuple[str, str]) -> tuple[asyncpg.Pool, asyncpg.Pool]:
    return await create_pool(dsns[0], max_size=3), await create_pool(dsns[1], max_size=2)


def _run_part(
    dsns: tuple[str, str],
    scope: Scope,
    share: tuple[int, int],
    upto: dict[str, int] | None,
    done: Synchronized[int],
) -> None:
    """A worker process: rebuild one part into the shadow."""

    parent = os.getppid()

    def report(n: int) -> None:
        if os.getppid() != parent:  # the replay died: its shadow is abandoned
            raise SystemExit(1)
        done.value = n

    async def main() -> None:
        perf, ledger = await _pools(dsns)
        try:
            part = _Part(perf, ledger, scope, share, report)
            await part.stream({}, upto)
            await part.finish()
        finally:
            await ledger.close()
            await perf.close()

    asyncio.run(main())


async def _rebuild(
    dsns: tuple[str, str], scope: Scope, upto: dict[str, int] | None, workers: int,
    progress: Progress, total: int,
) -> None:  # fmt: skip
    """Every part of the year into the shadow, each in a process of its own."""
    context = multiprocessing.get_context("spawn")
    counters = [context.Value("q", 0) for _ in range(workers)]
    processes = [
        context.Process(target=_run_part, args=(dsns, scope, (i, workers), upto, counters[i]))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        while any(process.is_alive() for process in processes):
            progress(sum(c.value for c in counters), total)
            await asyncio.sleep(0.2)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
            process.join()
    if any(process.exitcode for process in processes):
        raise RuntimeError("a replay worker failed; the live projections are unchanged")
    progress(sum(c.value for c in counters), total)


async def _swap(perf: asyncpg.Pool, ledger: asyncpg.Pool, scope: Scope, started: dict[str, int],
                progress: Progress, done: int) -> None:  # fmt: skip
    """Catch up with the live projections and replace the year's live rows, atomically."""
    async with perf.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"SELECT department, position FROM {LIVE}.applied_positions ORDER BY department "
            "FOR UPDATE"
        )  # the live consumer waits until the swap commits
        catch_up = _Part(perf, ledger, scope, progress=lambda n: progress(done + n, done + n))
        await catch_up.stream(started, {r["department"]: r["position"] for r in rows}, True)
        await write(conn, catch_up.projection, scope.schema)
        year, shadow = (scope.fiscal_year, scope.department), scope.schema
        for table in YEAR_TABLES:
            columns = ", ".join(table.columns)
            await conn.execute(
                f"DELETE FROM {LIVE}.{table.name} t WHERE {table.of_year(LIVE)}", *year
            )
            if table.name == "cases":  # rows of a version that kept no fiscal year
                await conn.execute(
                    f"""DELETE FROM {LIVE}.cases t USING {shadow}.cases s
                        WHERE (t.department, t.case_id) = (s.department, s.case_id)"""
                )
            await conn.execute(
                f"INSERT INTO {LIVE}.{table.name} ({columns}) "
                f"SELECT {columns} FROM {shadow}.{table.name}"
            )
        columns = ", ".join(DEPARTMENT_COLUMNS)
        await conn.execute(
            f"""INSERT INTO {LIVE}.departments ({columns})
                SELECT {columns} FROM {shadow}.departments
                ON CONFLICT (code) DO UPDATE SET
                {", ".join(f"{c} = excluded.{c}" for c in DEPARTMENT_COLUMNS[1:])}"""
        )
        await conn.execute(f"DROP SCHEMA {shadow} CASCADE")


async def replay(
    perf_dsn: str,
    ledger_dsn: str,
    fiscal_year: int,
    *,
    department: str | None = None,
    until: datetime | None = None,
    timezone: str = "Asia/Shanghai",
    progress: Progress = lambda done, total: None,
    chunk: int = 20_000,
    workers: int = 1,
    flush_every: int = 500_000,
) -> Replayed:
    """Rebuild a fiscal year's projections (one department's, if given) from the event store:
    swapped into the live tables, or, with ``until``, into a kept snapshot schema."""
    scope = Scope(fiscal_year, department, until, timezone, chunk, flush_every)
    dsns = (perf_dsn, ledger_dsn)
    perf, ledger = await _pools(dsns)
    began = time.perf_counter()
    try:
        async with perf.acquire() as lock:
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext('replay'))"):
                raise RuntimeError("another replay is running on this database; wait for it")
            try:
                await _create_schema(lock, scope.schema)
                started = None
                if until is None:
                    rows = await lock.fetch(f"SELECT * FROM {LIVE}.applied_positions")
                    started = {r["department"]: r["position"] for r in rows}
                sql, args = scope.events({}, started)
                async with ledger.acquire() as conn:
                    total = await conn.fetchval(f"SELECT count(*) {sql}", *args)
                await _rebuild(dsns, scope, started, workers, progress, total)
                if started is None:
                    found = await digest(lock, fiscal_year, department, scope.schema)
                    return Replayed(total, time.perf_counter() - began, found, scope.schema)
                await _swap(perf, ledger, scope, started, progress, total)
                found = await digest(lock, fiscal_year, department)
                return Replayed(total, time.perf_counter() - began, found, LIVE)
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext('replay'))")
    finally:
        await ledger.close()
        await perf.close()


async def _create_schema(conn: asyncpg.Connection, schema: str) -> None:
    """A fresh schema with the projection tables (what a crashed replay left is dropped)."""
    ddl = SCHEMA_SQL.read_text("utf-8")
    ddl = ddl.replace(f"SCHEMA IF NOT EXISTS {LIVE};", f"SCHEMA {schema};")
    ddl = ddl.replace(f"{LIVE}.", f"{schema}.")
    async with conn.transaction():
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(ddl)
