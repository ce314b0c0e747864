"""Events that evolve, on the real stack: a year whose disbursements come in versions 1 and 2
(the amount with its currency, the economic class split into class and item) is accepted,
stored as published, folded as one version (the figures a brute-force sum over the payments
gives, a v2 payment reversed), replays to the live digest; an unknown version, or a currency
other than yuan, is rejected naming the field."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from demo import guandu2017 as demo
from demo.base import envelope, moment
from tests.helpers import Stack, fetch
from tests.integration.test_replay import cases, digest, replayed_digest

pytestmark = pytest.mark.integration

SPENDING = """{ departmentEvaluation(department: "GD-GRID", fiscalYear: 2017) {
  budget { spent byEconomicClass { economicClass spent } } }
  evidence(department: "GD-GRID", fiscalYear: 2017, metric: "spent", first: 1) { sum } }"""


def as_v2(event: dict[str, Any], item: str | None = None) -> dict[str, Any]:
    """A version-1 Disbursed as its publisher would send it in version 2."""
    data = {k: v for k, v in event["data"].items() if k not in ("amount", "economic_class")}
    code = event["data"]["economic_class"] + (item or "")
    classified = {"economic_class": code[:3], **({"economic_item": code[3:]} if item else {})}
    amount = {"value": event["data"]["amount"], "currency": "CNY"}
    return {**event, "schema_version": 2, "data": {**data, "amount": amount, **classified}}


def mixed_year() -> list[tuple[str, dict[str, Any]]]:
    """The demo's budget year with every second payment in version 2, the first of GD-GRID's
    in version 2 with an item (30211)."""
    year: list[tuple[str, dict[str, Any]]] = []
    payments, with_item = 0, False
    for event in demo.budget_events():
        if event["event_type"] == "Disbursed" and (payments := payments + 1) % 2 == 0:
            item = "11" if event["department"] == demo.GRID and not with_item else None
            with_item = with_item or item is not None
            event = as_v2(event, item)
        year.append(("budget", event))
    return year


def spent_by_code(events: list[dict[str, Any]]) -> Counter[str]:
    """What GD-GRID's lines spent by economic code, summed from the payments and reversals."""
    spent: Counter[str] = Counter()
    paid = {e["event_id"]: e["data"] for e in events if e["event_type"] == "Disbursed"}
    for event in events:
        if event["department"] != demo.GRID:
            continue
        if event["event_type"] == "Disbursed":
            data, sign = event["data"], 1
        elif event["event_type"] == "DisbursementReversed":
            data, sign = paid[event["data"]["reverses"]], -1
        else:
            continue
        amount = data["amount"]["value"] if isinstance(data["amount"], dict) else data["amount"]
        spent[data["economic_class"] + data.get("economic_item", "")] += sign * Decimal(amount)
    return spent


async def test_a_year_in_two_versions_folds_as_one(stack: Stack) -> None:
    await stack.start_all()
    year = mixed_year()
    grid_v2 = [e for _, e in year if e["schema_version"] == 2 and e["department"] == demo.GRID]
    reversal = {"reverses": grid_v2[1]["event_id"], "reason": "退回"}
    taken_back = envelope("versions-reversal", "DisbursementReversed", moment(12, 30), demo.GRID,
                          "finance", reversal)  # fmt: skip
    unknown = {**grid_v2[0], "event_id": "versions-v3", "schema_version": 3}
    dollars = {**grid_v2[0], "event_id": "versions-usd"}
    dollars["data"] = {**dollars["data"], "amount": {"value": "1.00", "currency": "USD"}}
    published = [*year, ("budget", taken_back), ("budget", unknown), ("budget", dollars)]
    await stack.settle(await stack.publish([*published, *cases(0, 200)]))

    stored = await fetch(stack.dsn, "SELECT payload::text FROM ledger.events "
                         "WHERE event_type = 'Disbursed'")  # fmt: skip
    versions = Counter(json.loads(r["payload"])["schema_version"] for r in stored)
    sent = Counter(e["schema_version"] for _, e in year if e["event_type"] == "Disbursed")
    assert versions == sent and set(sent) == {1, 2}  # stored as published

    spent = spent_by_code([e for _, e in year] + [taken_back])
    answer = await stack.query(SPENDING)
    budget = answer["departmentEvaluation"]["budget"]
    assert Decimal(budget["spent"]) == sum(spent.values()) == Decimal(answer["evidence"]["sum"])
    by_class = {r["economicClass"]: Decimal(r["spent"]) for r in budget["byEconomicClass"]}
    assert by_class == {c: s for c, s in spent.items() if s}
    assert "30211" in by_class  # a v2 class and item keep the code of version 1

    rejected = await fetch(stack.dsn, "SELECT event_id, reason, field, message "
                           "FROM ledger.rejections ORDER BY event_id")  # fmt: skip
    assert rejected == [
        {"event_id": "versions-usd", "reason": "invalid_field", "field": "data.amount.currency",
         "message": "data.amount.currency: Input should be 'CNY'"},
        {"event_id": "versions-v3", "reason": "unsupported_schema_version",
         "field": "schema_version",
         "message": "schema_version: 3 is not a version of Disbursed (1 and 2)"},
    ]  # fmt: skip

    live = digest(stack)
    output = stack.cli("performance", "replay", "--fiscal-year", "2017")
    assert replayed_digest(output) == digest(stack) == live
