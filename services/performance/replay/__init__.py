"""Replay: rebuild a fiscal year's projections from the ledger's event store (the log of
record); the projection digest (services/common/projections.py) proves a rebuild equal to
the live projections.

A replay rebuilds into shadow tables (a schema of their own, its tables created from the
declarations; swap.py), in two parts at once: PostgreSQL builds the cases, their daily counts
and deadline figures from the event store with set operations (cases.py: the bulk of a year's
events, no Python per event); every other event (budget lines, targets, outputs, what
evaluators write) streams in ledger order, typed journal entries read through
services/common/event_store.py, through the same ``BatchProjection`` the live service uses
(part.py), its daily buckets written every so many events, so memory does not grow with the
year. Then, in one transaction, it swaps the year's rows into the live tables: the live
projections change all at once or not at all, and a replay that dies half-way leaves them
untouched.

The live service keeps consuming meanwhile. A replay reads, per department, exactly the
events the live projections had applied when it started; at the swap it locks the applied
positions (the live consumer waits), catches up to them, and swaps, so the rebuilt year
holds exactly what the live one held.

``until`` rebuilds the year as it stood at a past moment, from the events the ledger had
recorded by then, into a snapshot schema that is kept (and never swapped in).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.common.db import create_pool
from services.common.projections import LIVE, digest
from services.performance.replay.cases import build_cases
from services.performance.replay.part import Part
from services.performance.replay.scope import Progress, Scope
from services.performance.replay.swap import create_shadow, keep, swap

__all__ = ["Progress", "Replayed", "Scope", "replay"]


@dataclass
class Replayed:
    events: int
    seconds: float
    digest: str
    schema: str  # where the rebuilt rows are: the live schema after a swap, or the snapshot


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
    flush_every: int = 500_000,
) -> Replayed:
    """Rebuild a fiscal year's projections (one department's, if given) from the event store:
    swapped into the live tables, or, with ``until``, into a kept snapshot schema."""
    scope = Scope(fiscal_year, department, until, timezone, chunk, flush_every)
    # connections: the lock, the fold and two departments' cases (cases.py) at a time
    perf = await create_pool(perf_dsn, max_size=4)
    ledger = await create_pool(ledger_dsn, max_size=3)
    began = time.perf_counter()
    try:
        async with perf.acquire() as lock:
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext('replay'))"):
                raise RuntimeError("another replay is running on this database; wait for it")
            try:
                events, schema = await _replay(lock, perf, ledger, scope, progress)
                found = await digest(lock, fiscal_year, department, schema)
                return Replayed(events, time.perf_counter() - began, found, schema)
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext('replay'))")
    finally:
        await ledger.close()
        await perf.close()


async def _replay(
    lock: asyncpg.Connection, perf: asyncpg.Pool, ledger: asyncpg.Pool, scope: Scope,
    progress: Progress,
) -> tuple[int, str]:  # fmt: skip
    """Rebuild into the shadow, then swap it in (or keep the snapshot): (events, the schema
    holding the year)."""
    await create_shadow(lock, scope.schema)
    started = None
    if scope.until is None:
        rows = await lock.fetch(f"SELECT department, position FROM {LIVE}.applied_positions")
        started = {r["department"]: r["position"] for r in rows}
    async with ledger.acquire() as conn:
        total = await scope.events({}, started).count(conn)
    await _rebuild(perf, ledger, scope, started, progress, total)
    if started is None:
        await keep(lock, scope.schema)
        return total, scope.schema
    await swap(perf, ledger, scope, started, progress, total)
    return total, LIVE


async def _rebuild(
    perf: asyncpg.Pool, ledger: asyncpg.Pool, scope: Scope, upto: Mapping[str, int] | None,
    progress: Progress, total: int,
) -> None:  # fmt: skip
    """The year into the shadow: the cases by PostgreSQL while the other events are folded."""
    part = Part(perf, ledger, scope, progress=lambda done: progress(done, total))

    async def fold() -> None:
        await part.stream({}, upto, cases=False)
        await part.finish()

    cases = scope.events({}, upto, cases=True)
    await asyncio.gather(fold(), build_cases(ledger, perf, cases, scope.schema, scope.timezone))
    progress(total, total)
