"""The performance service away while ingest goes on, then back: the ledger keeps deciding,
and the projections catch up with bounded memory.

    .venv/bin/python -m bench.catchup [--minutes 10] [--rate 2000] [--seed 1]

On its own embedded broker and database: one ledger, the gateway, and the performance
service stopped. An upstream publishes the chaos run's records (bench/chaos.py) at
``--rate`` a second for ``--minutes``; the ledger decides them as they come. Then the
performance service starts again and works off the journal it missed. It prints how fast
the ledger kept up, how long the catch-up took, its rate, and the performance service's
resident memory while it caught up (its peak, beside what it held when it started).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Annotated

import psutil
import typer
from rich.console import Console

from bench.chaos import Side, Upstream, records
from bench.watch import watching
from deploy.infra import start_postgres, wait_for_consumer_group
from deploy.stack import pipeline_status, wait_until_projected

console = Console(soft_wrap=True)


async def run(minutes: float, rate: float, seed: int, root: Path) -> None:
    admin_dsn = start_postgres(root / "pg", delete_on_exit=True)
    log = records(int(minutes * 60 * rate), seed)
    side = await Side.start("catchup", admin_dsn, root, ledgers=1)
    try:
        performance = side.processes["performance"]
        performance.stop()
        console.print(f"performance stopped; {len(log):,} records at {rate:,.0f}/s")
        upstream = Upstream(log, rate, side.broker.bootstrap)
        started = time.perf_counter()
        await upstream.run()
        away = time.perf_counter() - started
        await wait_for_consumer_group(side.broker.bootstrap, "ledger", upstream.offsets, 600)
        behind = time.perf_counter() - started - away
        status = await pipeline_status(side.dsn)
        console.print(
            f"  {away / 60:.1f} min away: the ledger decided every record "
            f"{behind:.1f} s after the last was published ({status['accepted']:,} accepted, "
            f"{status['rejected']:,} rejected)"
        )
        performance.start()
        await side.wait_ready("performance")
        assert performance.process is not None
        at_start = psutil.Process(performance.process.pid).memory_info().rss
        caught_up = wait_until_projected(side.dsn, side.broker.bootstrap, upstream.offsets, 3600)
        _, seconds, peak = await watching(performance, caught_up)
        console.print(
            f"  back: caught up in {seconds:.1f} s ({status['accepted'] / seconds:,.0f} events/s), "
            f"resident memory {at_start / 2**20:,.0f} MiB at start, "
            f"{peak / 2**20:,.0f} MiB at most"
        )
    finally:
        side.stop()


def main(
    minutes: Annotated[float, typer.Option(min=0.1, help="Minutes performance is away")] = 10,
    rate: Annotated[float, typer.Option(min=100, help="Records published a second")] = 2_000,
    seed: Annotated[int, typer.Option(help="Seed of the records")] = 1,
) -> None:
    """Ingest while the performance service is away; then measure its catch-up."""
    root = Path(tempfile.mkdtemp(prefix="bench-catchup-"))
    console.print(f"logs and data under {root}")
    asyncio.run(run(minutes, rate, seed, root))


if __name__ == "__main__":
    typer.run(main)
