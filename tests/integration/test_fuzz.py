"""Garbage at the real consumer: the ledger neither crashes nor stalls, and every bad record
lands in the rejections with a reason and its original bytes."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from bench import fuzz
from deploy.infra import wait_for_consumer_group, wait_http
from tests.conftest import KafkaTarget
from tests.helpers import Stack, fetch

pytestmark = pytest.mark.integration

VALID: dict[str, Any] = {
    "event_id": "fuzz-valid",
    "event_type": "BudgetAuthorised",
    "schema_version": 1,
    "occurred_at": "2017-01-05T09:00:00+08:00",
    "department": "FUZZ",
    "fiscal_year": 2017,
    "source": "fuzz",
    "data": {"line_id": "FUZZ-L1", "title": "边界", "category": "basic", "amount": "1.00"},
}


def with_(n: int, **changes: Any) -> bytes:
    event = {**VALID, "event_id": f"fuzz-{n}", **changes}
    return json.dumps(event, ensure_ascii=False).encode()


def with_data(n: int, **changes: Any) -> bytes:
    return with_(n, data={**VALID["data"], **changes})


def bad_records() -> list[bytes | None]:
    rnd = random.Random(2017)
    cases: list[bytes | None] = [None, b"", b"null", b"[]", b"42", b'"text"', b"{", b"{}", b"\x00"]
    cases += [rnd.randbytes(n) for n in (1, 7, 64, 1000, 100_000)]
    cases += [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]
    cases += [
        json.dumps(VALID).encode("utf-16"),  # wrong encodings
        with_(1, source="Ærø", data={**VALID["data"], "title": "t"}).decode().encode("latin-1"),
        with_(2).replace(b"}", b"\xff}", 1),
        with_(3, event_id=123),  # wrong types, out-of-range and missing values
        with_(4, event_id=""),
        with_(5, event_id="x" * 129),
        with_(6, schema_version="1"),
        with_(7, schema_version=2),
        with_(8, occurred_at="2017-01-05T09:00:00"),
        with_(9, occurred_at=0),
        with_(10, department="no spaces!"),
        with_(11, department="D" * 65),
        with_(12, fiscal_year="2017"),
        with_(13, fiscal_year=1999),
        with_(14, data=[]),
        with_(15, data=None),
        with_(16, event_type="BudgetInvented"),
        with_(17, source=""),
        with_(18, extra_field=1),
        json.dumps({k: v for k, v in VALID.items() if k != "occurred_at"}).encode(),
        with_(19, event_id="y" * 1_000_000),  # huge strings
        with_data(20, title="标" * 200_000),
        with_data(21, unknown="field"),
        with_data(22, category="capital"),
        with_data(23, title="a\u0000b"),  # U+0000, which PostgreSQL's text cannot hold
        with_(24, event_id="nul\u0000", department="D\u0000"),
    ]
    amounts: list[Any] = ["0.00", "0.001", "-1.00", "-0.01", "1e5", "1,000.00", " 1.00", "１.00"]
    amounts += ["9999999999999999.99", "", "NaN", "Infinity", 1000, 1000.5, None, True, [], {}]
    cases += [with_data(100 + i, amount=amount) for i, amount in enumerate(amounts)]
    return cases


async def test_the_consumer_survives_garbage(
    database: str, kafka: KafkaTarget, stack: Stack
) -> None:
    bad = bad_records()
    boundary = with_(999, data={**VALID["data"], "amount": "999999999999999.99"})
    topics = [kafka.topics.budget_events, kafka.topics.procurement_events, kafka.topics.case_events]
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, max_request_size=4_000_000)
    offsets = {}
    try:
        await stack.start_all()
        await producer.start()
        for i, value in enumerate([*bad, boundary]):
            topic = kafka.topics.budget_events if value is boundary else topics[i % 3]
            key = [None, b"FUZZ", b"\xff\xfe"][i % 3] if value is not None else b"FUZZ"
            sent = await producer.send_and_wait(topic, value=value, key=key)
            offsets[(sent.topic, sent.partition)] = sent.offset
        await stack.settle(offsets, timeout=120)
        rows = await fetch(
            database, "SELECT raw, reason, message FROM ledger.rejections ORDER BY rejection_id"
        )
        assert len(rows) == len(bad)
        assert sorted(bytes(r["raw"]) for r in rows) == sorted(v or b"" for v in bad)
        assert all(r["reason"] and r["message"] for r in rows)
        accepted = await fetch(database, "SELECT event_id FROM ledger.events")
        assert accepted == [{"event_id": "fuzz-999"}]
        assert stack.processes["ledger"].alive()
    finally:
        await producer.stop()


async def test_mutated_envelopes_each_land_in_one_place(
    database: str, kafka: KafkaTarget, stack: Stack
) -> None:
    """bench/fuzz.py at a small size: every mutated record is accepted, held or rejected,
    exactly once; the ledger stays up."""
    published, offsets = await fuzz.publish(
        kafka.bootstrap, kafka.topics, fuzz.mutants(3_000, 17, fuzz.base_events(cases=600))
    )
    ledger = stack.start("ledger")
    await wait_http(stack.url("ledger", "/readyz"), process=ledger)
    await wait_for_consumer_group(kafka.bootstrap, "ledger", offsets, timeout=300)
    found = await fuzz.outcome(database)
    assert (found.lost(published), found.double) == (0, 0), found
    assert found.accepted > 100 and found.rejected > 1_000, found
    assert len(found.reasons) >= 10, found.reasons  # the mutations reach many rules
    assert ledger.alive()
    unexplained = "SELECT count(*) AS n FROM ledger.rejections WHERE reason = '' OR message = ''"
    assert await fetch(database, unexplained) == [{"n": 0}]
