"""Upstream producers compress their batches (Java and librdkafka producers are often set to
lz4, zstd or snappy): the ledger reads every Kafka codec, through the real broker."""

from __future__ import annotations

import json

import pytest
from aiokafka import AIOKafkaProducer

from demo import guandu2017 as demo
from demo.publish import Codec, publish
from tests.conftest import KafkaTarget
from tests.helpers import Stack, fetch

pytestmark = pytest.mark.integration


async def test_batches_of_every_codec_are_ingested(
    database: str, kafka: KafkaTarget, stack: Stack
) -> None:
    await stack.start_all()
    events = [("budget", e) for e in demo.budget_events()]
    offsets: dict[tuple[str, int], int] = {}
    share = len(events) // len(Codec) + 1
    for n, codec in enumerate(Codec):  # in order: a quarter of the year in each codec
        chunk = events[n * share : (n + 1) * share]
        _, written = await publish(kafka.bootstrap, chunk, kafka.topics, compression=codec.value)
        offsets |= {p: max(offset, offsets.get(p, -1)) for p, offset in written.items()}
    # another client's record: headers, and no key (a duplicate of the first event)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, compression_type="zstd")
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            kafka.topics.budget_events,
            value=json.dumps(events[0][1], ensure_ascii=False).encode(),
            headers=[("content-type", b"application/json"), ("trace", b"\xff\x00")],
        )
    finally:
        await producer.stop()
    at = (meta.topic, meta.partition)
    offsets[at] = max(meta.offset, offsets.get(at, -1))
    await stack.settle(offsets)

    stored = await fetch(database, "SELECT count(*) AS n FROM ledger.events")
    assert stored == [{"n": len(events)}]
    assert await fetch(database, "SELECT count(*) AS n FROM ledger.rejections") == [{"n": 0}]
    budget = await stack.query(
        '{ departmentEvaluation(department: "GD-GRID", fiscalYear: 2017) { budget { spent } } }'
    )
    assert budget["departmentEvaluation"]["budget"]["spent"] != "0.00"
