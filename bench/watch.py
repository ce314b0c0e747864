"""A service process watched while the benchmark waits for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

import psutil

from deploy.infra import ServiceProcess

T = TypeVar("T")


async def watching(process: ServiceProcess, work: Awaitable[T]) -> tuple[T, float, int]:
    """Await ``work`` while sampling the process's resident memory every 0.2 s: its result,
    the seconds it took and the peak RSS in bytes. Raises if the process dies meanwhile."""
    assert process.process is not None
    watched = psutil.Process(process.process.pid)
    started = time.perf_counter()
    task = asyncio.ensure_future(work)
    peak = 0
    try:
        while not task.done():
            assert process.alive(), f"{process.name} died; see {process.log_path}"
            peak = max(peak, watched.memory_info().rss)
            await asyncio.wait([task], timeout=0.2)
    finally:
        task.cancel()
    return task.result(), time.perf_counter() - started, peak
