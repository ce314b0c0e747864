"""Replay: rebuild a fiscal year's projections from the ledger's event store (the log of
record); the projection digest (services/common/projections.py) proves a rebuild equal to
the live projections.

A replay streams the year's accepted events in ledger order, typed journal entries read
through services/common/event_store.py (a server-side cursor, thousands of rows per round
trip), through the same ``BatchProjection`` the live service uses, into shadow tables (a
schema of their own, its tables created from the declarations; swap.py). Worker processes
share the work (workers.py): each takes the cases whose stream hashes to it (the first also
every other event); the projection is additive, so their rows sum to the year's. Daily
buckets stay in memory (they are bounded by days × dimensions); a case leaves memory once
closed (no event can change it after), so memory does not grow with the year (part.py).
Then, in one transaction, it swaps the year's rows into the live tables: the live
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

import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.common.projections import LIVE, digest
from services.performance.replay.scope import Progress, Scope
from services.performance.replay.swap import create_shadow, swap
from services.performance.replay.workers import Dsns, pools, rebuild

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
    workers: int = 1,
    flush_every: int = 500_000,
) -> Replayed:
    """Rebuild a fiscal year's projections (one department's, if given) from the event store:
    swapped into the live tables, or, with ``until``, into a kept snapshot schema."""
    scope = Scope(fiscal_year, department, until, timezone, chunk, flush_every)
    dsns = (perf_dsn, ledger_dsn)
    perf, ledger = await pools(dsns)
    began = time.perf_counter()
    try:
        async with perf.acquire() as lock:
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext('replay'))"):
                raise RuntimeError("another replay is running on this database; wait for it")
            try:
                events, schema = await _replay(lock, perf, ledger, dsns, scope, workers, progress)
                found = await digest(lock, fiscal_year, department, schema)
                return Replayed(events, time.perf_counter() - began, found, schema)
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext('replay'))")
    finally:
        await ledger.close()
        await perf.close()


async def _replay(
    lock: asyncpg.Connection, perf: asyncpg.Pool, ledger: asyncpg.Pool, dsns: Dsns,
    scope: Scope, workers: int, progress: Progress,
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
    await rebuild(dsns, scope, started, workers, progress, total)
    if started is None:
        return total, scope.schema
    await swap(perf, ledger, scope, started, progress, total)
    return total, LIVE
