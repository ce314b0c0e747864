"""Replay benchmark: events/s from the ledger's event store to swapped projections, and
peak memory, beside a naive replay that applies one event per transaction.

    .venv/bin/python -m bench.replay --districts 1      # a district-year, 1.32 million events
    .venv/bin/python -m bench.replay --districts 8      # the city-year, 10.6 million events

It starts an embedded PostgreSQL in a temporary directory (or uses DATABASE_URL), stores the
generated city-year (bench/city_year.py) in the ledger's event store with the ledger's own
code (``ingest_batch``, batches of 5,000, no Kafka), marks the year as applied by a live
service (so that the replay swaps), then runs ``performance replay --fiscal-year 2017`` as
its own process and measures it: wall time and peak RSS. The naive replay (``--naive``,
run as its own process too) feeds the same events, in the same order, to the live service's
code one event per call (``apply_entries`` on a single entry: one transaction per event),
over the first ``--naive-events``. A last figure is the ceiling of any design that makes one
SQL round trip per event: a loop of one trivial statement per event.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import asyncpg
import typer
from rich.console import Console
from rich.progress import Progress

from bench import peer
from bench.city_year import city_year
from bench.watch import measured
from deploy.infra import start_postgres
from services.common.db import create_pool, migrate
from services.common.event_store import journal_after
from services.common.settings import Topics
from services.ledger.ingest import ingest_batch
from services.ledger.records import InboundRecord
from services.ledger.store import PostgresLedgerStore
from services.performance import bootstrap
from services.performance.settings import PerformanceSettings
from services.performance.store import apply_entries

LEDGER_MIGRATIONS = Path(__file__).parents[1] / "services" / "ledger" / "migrations"
console = Console()


async def load(dsn: str, districts: int) -> tuple[int, float]:
    """Store the city-year in the event store through the ledger's batch code; (events, s)."""
    topics = Topics()
    topic_of = {group: topic for topic, group in topics.inbound().items()}
    await migrate(dsn, LEDGER_MIGRATIONS)
    pool = await create_pool(dsn)
    began, n = time.perf_counter(), 0
    events = city_year(districts)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("storing the year in the event store", total=None)
        while batch := list(itertools.islice(events, 5000)):
            records = [
                InboundRecord(topic_of[group], 0, n + i, json.dumps(e, ensure_ascii=False).encode())
                for i, (group, e) in enumerate(batch)
            ]
            decision = await ingest_batch(PostgresLedgerStore(pool), records, topics.inbound())
            assert not decision.refused and not decision.held, decision.refused[:1]
            n += len(batch)
            progress.update(task, completed=n)
    seconds = time.perf_counter() - began
    await pool.close()
    return n, seconds


async def stored(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM ledger.events"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def mark_applied(dsn: str) -> None:
    """As if a live performance service had applied every stored event (empty projections)."""
    resources = await bootstrap.connect(PerformanceSettings(database_url=dsn))
    async with resources.pool.acquire() as conn:
        await conn.execute("TRUNCATE performance.applied_positions")
        await conn.execute(
            """INSERT INTO performance.applied_positions
               SELECT department, max(position) FROM ledger.events GROUP BY department"""
        )
    await bootstrap.disconnect(resources)


async def naive(dsn: str, limit: int) -> None:
    """The naive replay: each event applied in a transaction of its own (prints events/s)."""
    pool = await create_pool(dsn)
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE performance.applied_positions")
    timezone = ZoneInfo("Asia/Shanghai")
    async with pool.acquire() as conn:
        entries = await journal_after(conn, 0, limit)
    began = time.perf_counter()
    for entry in entries:
        await apply_entries(pool, [entry], timezone)
    seconds = time.perf_counter() - began
    print(json.dumps({"events": len(entries), "seconds": seconds}))
    await pool.close()


async def round_trip_ceiling(dsn: str, n: int = 20_000) -> float:
    """Events/s of one trivial statement per event: no one-round-trip design beats it."""
    conn = await asyncpg.connect(dsn)
    began = time.perf_counter()
    for i in range(n):
        await conn.execute("SELECT $1::bigint", i)
    seconds = time.perf_counter() - began
    await conn.close()
    return n / seconds


def main(
    districts: Annotated[int, typer.Option(min=1, help="Districts of the city-year")] = 1,
    naive_events: Annotated[int, typer.Option(help="Events the naive replay applies")] = 50_000,
    naive_only: Annotated[str | None, typer.Option("--naive", hidden=True)] = None,
    peer_events: Annotated[
        int, typer.Option(help="Events the eventsourcing peer rebuilds (0: none)")
    ] = 20_000,
) -> None:
    """Measure the replay of a generated year against a naive one."""
    if naive_only:  # the naive replay's own process
        asyncio.run(naive(naive_only, naive_events))
        return
    dsn = os.environ.get("DATABASE_URL") or start_postgres(
        Path(tempfile.mkdtemp(prefix="bench-replay-")) / "pg", delete_on_exit=True
    )
    events = asyncio.run(stored(dsn))
    if events:  # a database given with DATABASE_URL, loaded by an earlier run
        console.print(f"the event store holds {events:,} events already: replaying them")
    else:
        events, seconds = asyncio.run(load(dsn, districts))
        console.print(f"stored {events:,} events in {seconds:.0f} s with the ledger's batch "
                      f"code ({events / seconds:,.0f} events/s, no Kafka)")  # fmt: skip
    asyncio.run(mark_applied(dsn))
    env = {**os.environ, "DATABASE_URL": dsn, "COLUMNS": "120"}
    replay = [sys.executable, "-m", "services.performance.cli", "replay", "--fiscal-year", "2017"]
    seconds, peak, output = measured(replay, env)
    console.print(output.strip().splitlines()[-2:])
    rate = events / seconds
    console.print(f"replay: {events:,} events in {seconds:.1f} s = {rate:,.0f} events/s, "
                  f"peak RSS {peak / 2**20:,.0f} MiB (all its processes)")  # fmt: skip
    if peer_events:  # the eventsourcing library on the same first events (bench/peer.py)
        console.print(peer.compared("rebuild", rate, peer_events, districts, env))
    naive_run = [sys.executable, "-m", "bench.replay", "--naive", dsn,
                 "--naive-events", str(naive_events)]  # fmt: skip
    _, naive_peak, output = measured(naive_run, env)
    found = json.loads(output.strip().splitlines()[-1])
    naive_rate = found["events"] / found["seconds"]
    ceiling = asyncio.run(round_trip_ceiling(dsn))
    console.print(f"naive (one event per transaction): {found['events']:,} events at "
                  f"{naive_rate:,.0f} events/s, peak RSS {naive_peak / 2**20:,.0f} MiB; "
                  f"ratio {rate / naive_rate:,.1f}x")  # fmt: skip
    console.print(f"one round trip per event, at best: {ceiling:,.0f} events/s; "
                  f"ratio {rate / ceiling:,.1f}x")  # fmt: skip
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"this process (generator and loader): peak RSS {own:,.0f} MiB")


if __name__ == "__main__":
    typer.run(main)
