"""Bad input through real Kafka and PostgreSQL: rejected with reasons, nothing counted twice."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer

from demo import guandu2017 as demo
from deploy.infra import read_topic
from tests.conftest import KafkaTarget
from tests.helpers import Stack, fetch, wait_for

pytestmark = pytest.mark.integration

LINE_QUERY = """
query($line: String!) {
  lineEvaluation(lineId: $line) {
    adjustedBudget arrived transferred spent balance arrivalRate executionRate spentOfArrivedRate
    byEconomicClass { economicClass spent share }
  }
  departmentEvaluation(department: "GD-CGJ", fiscalYear: 2017) {
    budget { spent arrived byCategory { category spent share } }
  }
}
"""


async def resolved(stack: Stack) -> bool:
    listed = stack.ledger_cli("rejections", "list", "--status", "resolved", "--json")
    return [json.loads(line)["event_id"] for line in listed.splitlines()] == ["bad-float"]


async def test_bad_events_are_rejected_and_change_nothing(
    database: str, kafka: KafkaTarget, stack: Stack
) -> None:
    # the over-spend could still be covered by funds arriving later: held 2 s, then rejected
    await stack.start_all(LEDGER_HOLD_SECONDS="2")
    budget = list(demo.budget_events())
    await stack.settle(await stack.publish(("budget", e) for e in budget))
    before = await stack.query(LINE_QUERY, line=demo.ZHGD_LINE)
    stored_before = await fetch(database, "SELECT count(*) AS n FROM ledger.events")

    template = next(
        e
        for e in budget
        if e["event_type"] == "Disbursed" and e["data"]["line_id"] == demo.ZHGD_LINE
    )
    float_amount = {
        **template,
        "event_id": "bad-float",
        "data": {**template["data"], "amount": 1000.5},
    }
    overspend = {
        **template,
        "event_id": "bad-overspend",
        "data": {**template["data"], "amount": "30000000.00"},
    }
    malformed = b'{"event_id": "bad-json", "event_type": "Disbursed", '
    bad = [json.dumps(float_amount).encode(), json.dumps(overspend).encode(), malformed]
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    offsets = {}
    try:
        for value in [*bad, json.dumps(template, ensure_ascii=False).encode()]:  # + duplicate
            meta = await producer.send_and_wait(
                kafka.topics.budget_events, value=value, key=demo.BUREAU.encode()
            )
            offsets[(meta.topic, meta.partition)] = meta.offset
    finally:
        await producer.stop()
    await stack.settle(offsets)

    rejections = await read_topic(kafka.bootstrap, kafka.topics.ledger_rejected, at_least=3)
    assert sorted(r["reason"] for r in rejections) == [
        "amount_must_be_string",
        "disbursement_exceeds_arrived",
        "invalid_json",
    ]
    assert {base64.b64decode(r["original_b64"]) for r in rejections} == set(bad)
    by_reason = {r["reason"]: r for r in rejections}
    assert by_reason["amount_must_be_string"]["field"] == "data.amount"
    assert by_reason["disbursement_exceeds_arrived"]["event_id"] == "bad-overspend"
    assert "held 2 s" in by_reason["disbursement_exceeds_arrived"]["message"]
    assert all(r["source_topic"] == kafka.topics.budget_events for r in rejections)

    assert await fetch(database, "SELECT count(*) AS n FROM ledger.events") == stored_before
    assert await stack.query(LINE_QUERY, line=demo.ZHGD_LINE) == before
    stored = await fetch(database, "SELECT count(*) AS n FROM ledger.rejections")
    assert stored == [{"n": 3}]

    # the operator finds the float amount, corrects it and resubmits it
    listed = stack.ledger_cli("rejections", "list", "--reason", "amount_must_be_string", "--json")
    (row,) = [json.loads(line) for line in listed.splitlines()]
    assert (row["event_id"], row["status"]) == ("bad-float", "open")
    still_bad = json.dumps({**float_amount, "data": {**template["data"], "amount": "1e3"}})
    refused = stack.ledger_cli(
        "rejections",
        "resubmit",
        str(row["rejection_id"]),
        "--file",
        "-",
        stdin=still_bad.encode(),
        exit_code=1,
    )
    assert "invalid_money_format" in refused
    corrected = {**float_amount, "data": {**template["data"], "amount": "1000.50"}}
    stack.ledger_cli(
        "rejections",
        "resubmit",
        str(row["rejection_id"]),
        "--file",
        "-",
        stdin=json.dumps(corrected).encode(),
    )
    await wait_for(lambda: resolved(stack), what="rejection resolved")
    spent = Decimal(before["lineEvaluation"]["spent"]) + Decimal("1000.50")

    async def projected() -> bool:
        after = await stack.query(LINE_QUERY, line=demo.ZHGD_LINE)
        return Decimal(after["lineEvaluation"]["spent"]) == spent

    await wait_for(projected, what="corrected disbursement projected")
    shown = stack.ledger_cli("rejections", "show", str(row["rejection_id"]))
    assert "status: resolved" in shown and '"amount": 1000.5' in shown
