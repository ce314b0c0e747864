"""The rebuild: every part of the year into the shadow, each in a worker process of its own."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Mapping
from multiprocessing.sharedctypes import Synchronized

import asyncpg

from services.common.db import create_pool
from services.performance.replay.part import Part
from services.performance.replay.scope import Progress, Scope

Dsns = tuple[str, str]  # (the projections' database, the ledger's event store)


async def pools(dsns: Dsns) -> tuple[asyncpg.Pool, asyncpg.Pool]:
    """(the projections' pool, the event store's pool)."""
    return await create_pool(dsns[0], max_size=3), await create_pool(dsns[1], max_size=2)


def run_part(
    dsns: Dsns,
    scope: Scope,
    share: tuple[int, int],
    upto: Mapping[str, int] | None,
    done: Synchronized[int],
) -> None:
    """A worker process: rebuild one part into the shadow."""

    parent = os.getppid()

    def report(n: int) -> None:
        if os.getppid() != parent:  # the replay died: its shadow is abandoned
            raise SystemExit(1)
        done.value = n

    async def main() -> None:
        perf, ledger = await pools(dsns)
        try:
            part = Part(perf, ledger, scope, share, report)
            await part.stream({}, upto)
            await part.finish()
        finally:
            await ledger.close()
            await perf.close()

    asyncio.run(main())


async def rebuild(
    dsns: Dsns, scope: Scope, upto: Mapping[str, int] | None, workers: int,
    progress: Progress, total: int,
) -> None:  # fmt: skip
    """Every part of the year into the shadow, each in a process of its own."""
    context = multiprocessing.get_context("spawn")
    counters = [context.Value("q", 0) for _ in range(workers)]
    processes = [
        context.Process(target=run_part, args=(dsns, scope, (i, workers), upto, counters[i]))
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
