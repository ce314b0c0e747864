"""Latency of the department evaluation over HTTP at a steady request rate (open loop).

    make run                                    # the demo year, in another terminal
    .venv/bin/python -m bench.evaluation_latency --token <the auditor token make run prints> \
        [--rate 100] [--seconds 30] [--url ...] [--evidence closed]

With ``--evidence METRIC`` each request asks the first page (50 events) of that figure's
evidence instead: the events read from the event store, the count from the projections.

Every request carries the bearer token, so the gateway verifies it each time (as it does
for every client). The requests ask ``--days`` dates in turn; each is asked once before the
measurement (the gateway's cache then holds its figures) unless ``--cold``: against a gateway
just started, and with as many dates as requests, every answer comes from PostgreSQL.

Requests are sent on a fixed schedule whether or not earlier ones have answered, so a
slow server shows up as latency, not as a lower request rate (no coordinated omission).
With ``--burst N`` the N requests are sent all at once instead: those beyond the gateway's
GATEWAY_MAX_IN_FLIGHT are refused at once (503, BUSY) and counted apart.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from datetime import date, timedelta
from typing import Annotated

import httpx
import typer

QUERY = """
query($department: String!, $asOf: Date) {
  departmentEvaluation(department: $department, fiscalYear: 2017, asOf: $asOf) {
    budget { adjustedBudget arrived spent arrivalRate executionRate spentOfArrivedRate
             byCategory { category spent share } byEconomicClass { economicClass spent share } }
    cases { accepted closed closureRate due onTimeRate advanceDisposals
            byChannel { channel accepted closed closureRate } byKind { kind accepted closed } }
    indicators { targetId actual score } score grade
  }
}
"""
EVIDENCE = """
query($department: String!, $asOf: Date, $metric: String!) {
  evidence(department: $department, fiscalYear: 2017, asOf: $asOf, metric: $metric) {
    totalCount sum edges { cursor node { eventId eventType occurredAt position amount data } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def dates(days: int) -> list[str]:
    """``days`` dates of 2017, spread evenly over the year."""
    return [(date(2017, 1, 1) + timedelta(days=365 * i // days)).isoformat() for i in range(days)]


async def measure(
    url: str,
    token: str | None,
    rate: float,
    seconds: float,
    department: str,
    asked: list[str],
    cold: bool,
    evidence: str | None,
    burst: int,
) -> list[float]:
    latencies: list[float] = []
    errors = busy = 0
    connections = max(200, burst)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def one(as_of: str) -> None:
            nonlocal errors, busy
            started = time.perf_counter()
            variables = {"department": department, "asOf": as_of}
            query = QUERY if evidence is None else EVIDENCE
            if evidence is not None:
                variables["metric"] = evidence
            response = await client.post(url, json={"query": query, "variables": variables})
            elapsed = time.perf_counter() - started
            if response.status_code == 503 and response.headers.get("retry-after"):
                busy += 1
            elif response.status_code != 200 or response.json().get("errors"):
                errors += 1
            latencies.append(elapsed * 1000)

        for day in [] if cold else asked:  # warm up the pool and the gateway's cache (cache.py)
            await one(day)
        latencies.clear()
        tasks = []
        start = time.perf_counter()
        total = burst or int(rate * seconds)
        for i in range(total):
            delay = 0 if burst else start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(asked[i % len(asked)])))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{errors} requests failed")
    print(f"{len(latencies)} requests in {wall:.1f} s ({len(latencies) / wall:.1f}/s), "
          f"{busy} of them refused as BUSY (503)")  # fmt: skip
    return latencies


def main(
    url: Annotated[str, typer.Option()] = "http://127.0.0.1:8000/graphql",
    token: Annotated[
        str | None, typer.Option(envvar="LEDGER_TOKEN", help="bearer token (make run prints one)")
    ] = None,
    rate: Annotated[float, typer.Option(help="requests per second")] = 100,
    seconds: Annotated[float, typer.Option()] = 30,
    department: Annotated[str, typer.Option()] = "GD-GRID",
    as_of: Annotated[str | None, typer.Option(help="one date for every request")] = None,
    days: Annotated[int, typer.Option(help="dates asked in turn, spread over 2017")] = 12,
    cold: Annotated[
        bool, typer.Option(help="no warm-up: a gateway just started answers from PostgreSQL")
    ] = False,
    evidence: Annotated[
        str | None, typer.Option(help="ask the first page of this figure's evidence, e.g. closed")
    ] = None,
    burst: Annotated[int, typer.Option(help="send this many requests at once instead")] = 0,
) -> None:
    asked = [as_of] if as_of else dates(days)
    gc.disable()  # the load generator's own collections would show as the server's latency
    latencies = sorted(
        asyncio.run(measure(url, token, rate, seconds, department, asked, cold, evidence, burst))
    )
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
        f"max {latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    typer.run(main)
