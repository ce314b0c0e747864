"""Processes watched while a benchmark waits for them: their time and peak memory."""

from __future__ import annotations

import asyncio
import subprocess
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


def measured(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a process to its end: (seconds, peak RSS in bytes of it and its children
    together, what it printed)."""
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watched, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    output = process.stdout.read().decode() if process.stdout else ""
    assert process.returncode == 0, output
    return seconds, peak, output
