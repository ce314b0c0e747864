"""Ingest benchmark: events/s from the inbound topics to the journal through the ledger
service (validation and every rule included), its peak memory, and beside it a naive
consumer that makes one SQL round trip per event; then the lag from publish to visible in
GraphQL while events keep coming.

    .venv/bin/python -m bench.ingest --districts 2 [--ledgers 2] [--rate 5000]

It starts an embedded PostgreSQL and a Tansu broker in a temporary directory, publishes the
generated districts (bench/city_year.py) to the inbound topics first, then starts the ledger
service (``--ledgers`` instances in one consumer group) and times it from its first stored
event until the relay has published the last one to ``ledger.journal`` (sustained: the
topics are full the whole time). The naive consumer reads the same topics as its own
process: per record, it validates the event with the same pydantic model and inserts it
with one INSERT (no rules, no batching). For the lag, the performance and reporting services
start too and catch up with the journal; then a steady stream of events (the next district)
is published at ``--rate`` with a probe case every second; the lag of a probe is the time
until GraphQL counts it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import psutil
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console

from bench import peer
from bench.city_year import YEAR, city_year, district
from bench.watch import measured
from demo.publish import publish
from deploy.infra import Broker, ServiceProcess, create_topics, free_port, start_postgres, wait_http
from deploy.stack import pipeline_status
from schemas.versions import event_adapter
from services.common.settings import Topics
from services.reporting.access import issue_token

console = Console()
SECRET = "bench-ingest: a development secret of this benchmark's own gateway"
PROBE = """{ departmentEvaluation(department: "PROBE", fiscalYear: 2017) { cases { reported } } }"""


async def count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def timed_ingest(dsn: str, ledgers: list[ServiceProcess], events: int) -> tuple[float, int]:
    """(seconds from the first stored event to the last one published to the journal,
    peak RSS of the ledger processes together)."""
    watched = [psutil.Process(ledger.process.pid) for ledger in ledgers]  # type: ignore[union-attr]
    peak, first = 0, None
    # rows stored past the journal relay's cursor (commit order: services/ledger/store/relay.py)
    unpublished = """SELECT count(*) FROM ledger.events e JOIN ledger.relay_cursors c
                     ON c.name = 'journal' AND (e.tx, e.position) > (c.tx, c.position)"""
    # positions drawn, an upper bound of the rows stored: counting the table itself every
    # 0.2 s kept a PostgreSQL backend busy (half the time at 2 million rows), slowing what
    # is measured; the rows are counted only once enough positions were drawn
    drawn = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ledger.events_position_seq"
    while True:
        peak = max(peak, sum(p.memory_info().rss for p in watched))
        positions = await count(dsn, drawn)
        if positions and first is None:
            first = time.perf_counter()
        if (
            positions >= events
            and await count(dsn, "SELECT count(*) FROM ledger.events") >= events
            and await count(dsn, unpublished) == 0
        ):
            assert first is not None
            return time.perf_counter() - first, peak
        for ledger in ledgers:
            assert ledger.alive(), f"a ledger died; see {ledger.log_path}"
        await asyncio.sleep(0.2)


async def caught_up(dsn: str) -> None:
    with console.status("the projections are catching up with the journal"):
        while True:
            status = await pipeline_status(dsn)
            if status["applied_by_department"] == status["ledger_by_department"]:
                return
            await asyncio.sleep(1)


async def naive(dsn: str, bootstrap: str, limit: int) -> None:
    """One INSERT round trip per record (its own process; prints events/s)."""
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS naive_events (event_id text PRIMARY KEY, payload jsonb)"
    )
    consumer = AIOKafkaConsumer(*Topics().inbound(), bootstrap_servers=bootstrap,
                                group_id="naive", auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    done, began = 0, time.perf_counter()
    try:
        async for record in consumer:
            event = event_adapter.validate_json(record.value)
            await conn.execute(
                "INSERT INTO naive_events VALUES ($1, $2) ON CONFLICT DO NOTHING",
                event.event_id,
                record.value.decode(),
            )
            done += 1
            if done >= limit:
                break
    finally:
        await consumer.stop()
        await conn.close()
    print(json.dumps({"events": done, "seconds": time.perf_counter() - began}))


def probe(n: int) -> dict[str, Any]:
    return {"event_id": f"probe-{n}", "event_type": "CaseReported", "schema_version": 1,
            "occurred_at": f"{YEAR}-06-01T10:00:00+08:00", "department": "PROBE",
            "fiscal_year": YEAR, "source": "bench",
            "data": {"case_id": f"P{n}", "channel": "video", "category": "x",
                     "kind": "event"}}  # fmt: skip


async def lag(
    bootstrap: str,
    graphql: str,
    load: Iterator[tuple[str, dict[str, Any]]],
    rate: int,
    seconds: int,
) -> list[float]:
    """Publish ``load`` at ``rate`` events/s with a probe each second; each probe's lag."""
    topic_of = {group: topic for topic, group in Topics().inbound().items()}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    sent: dict[int, float] = {}
    seen: list[float] = []

    async def send(group: str, event: dict[str, Any]) -> None:
        await producer.send(topic_of[group], key=event["department"].encode(),
                            value=json.dumps(event, ensure_ascii=False).encode())  # fmt: skip

    async def watch(client: httpx.AsyncClient) -> None:
        while len(seen) < seconds:
            answer = (await client.post(graphql, json={"query": PROBE})).json()
            evaluation = (answer.get("data") or {}).get("departmentEvaluation")
            reported = evaluation["cases"]["reported"] if evaluation else 0
            now = time.perf_counter()
            while len(seen) < reported:
                seen.append(now - sent[len(seen)])
            await asyncio.sleep(0.05)

    token = issue_token(SECRET, "bench", ["*"], ["auditor"])
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        watcher = asyncio.create_task(watch(client))
        began = time.perf_counter()
        for second in range(seconds):
            sent[second] = time.perf_counter()
            await send("case", probe(second))
            for group, event in itertools.islice(load, rate):
                await send(group, event)
            await asyncio.sleep(max(0.0, began + second + 1 - time.perf_counter()))
        await producer.flush()
        await asyncio.wait_for(watcher, timeout=600)
    await producer.stop()
    return seen


def others(
    dsn: str, bootstrap: str, env: dict[str, str], ours: float, districts: int, peer_events: int,
    naive_events: int,
) -> None:  # fmt: skip
    """The eventsourcing library's append of the same first events (bench/peer.py) and the
    naive consumer, each its own measured process; their rates and our ratio to them."""
    if peer_events:
        console.print(peer.compared("append", ours, peer_events, districts, env))
    if naive_events:
        command = [sys.executable, "-m", "bench.ingest", "--naive", dsn, "--bootstrap",
                   bootstrap, "--naive-events", str(naive_events)]  # fmt: skip
        _, naive_peak, output = measured(command, env)
        found = json.loads(output.strip().splitlines()[-1])
        naive_rate = found["events"] / found["seconds"]
        console.print(f"naive (one INSERT per event): {found['events']:,} events at "
                      f"{naive_rate:,.0f} events/s, peak RSS {naive_peak / 2**20:,.0f} MiB; "
                      f"ratio {ours / naive_rate:,.1f}x")  # fmt: skip


def main(
    districts: Annotated[int, typer.Option(min=1, help="Districts published beforehand")] = 2,
    naive_events: Annotated[int, typer.Option(help="Records the naive consumer takes")] = 50_000,
    rate: Annotated[int, typer.Option(help="Events/s published while measuring the lag")] = 5000,
    lag_seconds: Annotated[int, typer.Option(help="How long the lag is measured")] = 60,
    ledgers: Annotated[int, typer.Option(min=1, help="Ledger instances (one group)")] = 1,
    peer_events: Annotated[
        int, typer.Option(help="Events the eventsourcing peer appends (0: none)")
    ] = 20_000,
    naive_only: Annotated[str | None, typer.Option("--naive", hidden=True)] = None,
    bootstrap: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Measure the ledger's ingest against a naive consumer, and the end-to-end lag."""
    if naive_only and bootstrap:
        asyncio.run(naive(naive_only, bootstrap, naive_events))
        return
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    dsn = start_postgres(root / "pg", delete_on_exit=True)
    broker = Broker(free_port(), root / "tansu.log").start()
    topics = Topics()
    asyncio.run(create_topics(broker.bootstrap, topics.all()))
    env = {"DATABASE_URL": dsn, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "GRAPHQL_PORT": str(free_port()), "PERFORMANCE_HTTP_PORT": str(free_port()),
           "AUTH_JWT_SECRET": SECRET}  # fmt: skip
    services: list[ServiceProcess] = []
    try:
        events, _ = asyncio.run(publish(broker.bootstrap, city_year(districts), topics, True))
        console.print(f"published {events:,} events of {districts} district(s)")
        for n in range(ledgers):
            own = {**env, "LEDGER_HTTP_PORT": str(free_port())}  # each ledger its /metrics
            services.append(ServiceProcess("ledger", own, root / f"ledger-{n}.log").start())
        seconds, peak = asyncio.run(timed_ingest(dsn, services, events))
        ours = events / seconds
        console.print(f"{ledgers} ledger(s): {events:,} events to the journal in {seconds:.1f} s"
                      f" = {ours:,.0f} events/s, peak RSS {peak / 2**20:,.0f} MiB")  # fmt: skip
        others(dsn, broker.bootstrap, {**os.environ, **env}, ours, districts, peer_events,
               naive_events)  # fmt: skip
        if not lag_seconds:
            return
        for name in ("performance", "reporting"):
            services.append(ServiceProcess(name, env, root / f"{name}.log").start())
        url = f"http://127.0.0.1:{env['GRAPHQL_PORT']}"
        asyncio.run(wait_http(f"{url}/healthz", process=services[-1]))
        asyncio.run(caught_up(dsn))  # the lag is measured on a pipeline with no backlog
        more = district(districts + 1)
        lags = asyncio.run(lag(broker.bootstrap, f"{url}/graphql", more, rate, lag_seconds))
        median = statistics.median(lags)
        p99 = statistics.quantiles(lags, n=100, method="inclusive")[98]
        console.print(f"lag at {rate:,} events/s for {lag_seconds} s: median {median:.2f} s, "
                      f"p99 {p99:.2f} s, max {max(lags):.2f} s")  # fmt: skip
    finally:
        for service in services:
            service.stop()
        broker.stop()


if __name__ == "__main__":
    typer.run(main)
