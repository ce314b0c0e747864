"""Funding sources end to end, through the real broker, ledger and performance service: the
projections per source (line_source_daily) equal a hand count, read by the reporting query
``lines.by_source``, and a disbursement above what arrived of its source is rejected."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from deploy.infra import read_topic, wait_http
from services.reporting.queries import lines
from tests.conftest import KafkaTarget
from tests.helpers import Stack, fetch

pytestmark = pytest.mark.integration

_ids = iter(range(1, 1000))


def event(event_type: str, day: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return "budget", {
        "event_id": data.pop("event_id", f"fs-{next(_ids)}"),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": f"2017-{day}T10:00:00+08:00",
        "department": "D1",
        "fiscal_year": 2017,
        "source": "finance",
        "data": data,
    }


def pay(day: str, line: str, amount: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return event("Disbursed", day, line_id=line, amount=amount, economic_class="302", **extra)


LINE = {"line_id": "FS-1", "title": "a line of two sources", "category": "project"}
EVENTS = [
    event("BudgetAuthorised", "03-01", **LINE, amount="1000.00"),  # appropriation, the default
    event("BudgetAuthorised", "03-01", **LINE, amount="400.00", funding_source="carryover"),
    event("BudgetAdjusted", "03-10", line_id="FS-1", amount="200.00", reason="追加",
          funding_source="other"),
    event("FundsArrived", "03-15", line_id="FS-1", amount="600.00"),
    event("FundsArrived", "03-15", line_id="FS-1", amount="300.00", funding_source="carryover"),
    event("FundsArrived", "03-20", line_id="FS-1", amount="150.00", funding_source="other"),
    pay("04-01", "FS-1", "250.00", funding_source="appropriation"),
    pay("04-02", "FS-1", "120.00", funding_source="carryover", event_id="fs-pay-c"),
    pay("04-03", "FS-1", "100.00", funding_source="other"),
    event("DisbursementReversed", "04-10", reverses="fs-pay-c", reason="wrong payee"),
    pay("04-15", "FS-1", "80.00", funding_source="carryover"),
    # 80 + 300 of carryover above its 300 arrived (the line: 730 of 1,050 arrived)
    pay("04-20", "FS-1", "300.00", funding_source="carryover", event_id="fs-over"),
    event("BudgetAuthorised", "03-01", line_id="FS-2", title="unit funds", category="basic",
          amount="50.00", funding_source="unit"),
    event("FundsArrived", "03-02", line_id="FS-2", amount="50.00", funding_source="unit"),
    pay("05-01", "FS-2", "10.00", funding_source="unit"),
]  # fmt: skip


def sums(initial: str, adjusted: str, arrived: str, spent: str) -> dict[str, Decimal]:
    return {
        "initial_budget": Decimal(initial),
        "adjusted_budget": Decimal(adjusted),
        "arrived": Decimal(arrived),
        "spent": Decimal(spent),
    }


async def test_money_is_kept_and_ruled_per_funding_source(
    database: str, kafka: KafkaTarget, stack: Stack
) -> None:
    for name in ("ledger", "performance"):  # rejected at once, not held (no hold)
        stack.start(name, LEDGER_HOLD_SECONDS="0")
    for name in ("ledger", "performance"):
        await wait_http(stack.url(name, "/readyz"), process=stack.processes[name])
    await stack.settle(await stack.publish(EVENTS))

    (rejection,) = await read_topic(kafka.bootstrap, kafka.topics.ledger_rejected, at_least=1)
    assert (rejection["reason"], rejection["event_id"], rejection["field"]) == (
        "spending_exceeds_arrived_for_source",
        "fs-over",
        "data.amount",
    )
    assert rejection["message"] == (
        "data.amount: spent of data.funding_source 'carryover' on line 'FS-1' would become "
        "380.00, above the 300.00 of that source arrived"
    )
    stored = await fetch(database, "SELECT event_id, payload FROM ledger.events")
    assert len(stored) == len(EVENTS) - 1
    payloads = {row["event_id"]: json.loads(row["payload"])["data"] for row in stored}
    assert "funding_source" not in payloads["fs-4"]  # the default is not stored
    assert payloads["fs-5"]["funding_source"] == "carryover"

    keys: list[tuple[list[str], date]] = [
        (["FS-1"], date(2017, 2, 28)),
        (["FS-1"], date(2017, 3, 12)),
        (["FS-1"], date(2017, 4, 5)),
        (["FS-1"], date(2017, 12, 31)),
        (["FS-1", "FS-2", "FS-1"], date(2017, 12, 31)),  # a line named twice counts once
        ([], date(2017, 12, 31)),
        (["FS-2"], date(2017, 4, 30)),
    ]
    conn = await asyncpg.connect(database, server_settings={"search_path": "performance"})
    try:
        found = await lines.by_source(conn, keys)
    finally:
        await conn.close()

    year_end = {
        "appropriation": sums("1000.00", "1000.00", "600.00", "250.00"),
        "carryover": sums("400.00", "400.00", "300.00", "80.00"),  # 120 - 120 + 80
        "other": sums("0", "200.00", "150.00", "100.00"),
    }
    assert found == [
        {},
        {
            "appropriation": sums("1000.00", "1000.00", "0", "0"),
            "carryover": sums("400.00", "400.00", "0", "0"),
            "other": sums("0", "200.00", "0", "0"),
        },
        {**year_end, "carryover": sums("400.00", "400.00", "300.00", "120.00")},
        year_end,
        {**year_end, "unit": sums("50.00", "50.00", "50.00", "10.00")},
        {},
        {"unit": sums("50.00", "50.00", "50.00", "0")},
    ]
    # the line's totals are the sums over its sources
    (total,) = await fetch(
        database,
        "SELECT sum(adjusted_budget) AS adjusted, sum(arrived) AS arrived, sum(spent) AS spent "
        "FROM performance.line_daily WHERE line_id = 'FS-1'",
    )
    assert total == {"adjusted": Decimal("1600.00"), "arrived": Decimal("1050.00"),
                     "spent": Decimal("430.00")}  # fmt: skip
