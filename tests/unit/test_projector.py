"""Projection folding and the contract's rounding, without I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from schemas.money import rate
from services.performance.projector import BatchProjection


def entry(
    event_type: str,
    data: dict[str, Any],
    at: str,
    context: dict[str, Any] | None = None,
    department: str = "D1",
) -> dict[str, Any]:
    return {
        "event": {
            "event_type": event_type,
            "department": department,
            "fiscal_year": 2017,
            "occurred_at": at,
            "data": data,
        },
        "context": context or {},
    }


def test_rates_round_half_up_to_four_places() -> None:
    assert rate(Decimal("26942600.00"), Decimal("36890100.00")) == Decimal("0.7303")
    assert rate(1, 8) == Decimal("0.1250")
    assert rate(Decimal("0.00005"), 1) == Decimal("0.0001")  # half-up, not half-even
    assert rate(5, 0) is None


def test_days_end_in_the_department_time_zone() -> None:
    projection = BatchProjection(ZoneInfo("Asia/Shanghai"), {})
    # 16:30 UTC on 31 Aug is 00:30 on 1 Sep in Shanghai
    projection.apply(
        entry("FundsArrived", {"line_id": "L1", "amount": "5.00"}, "2017-08-31T16:30:00+00:00")
    )
    assert list(projection.line_daily) == [("L1", date(2017, 9, 1))]


def test_a_redispatched_case_counts_once_and_reversals_subtract() -> None:
    projection = BatchProjection(ZoneInfo("Asia/Shanghai"), {})
    case = {"case_id": "C1"}
    projection.apply(
        entry(
            "CaseReported",
            {
                **case,
                "channel": "video",
                "category": "x",
                "kind": "event",
                "advance_disposal": True,
            },
            "2017-03-01T10:00:00+08:00",
        )
    )
    for assignee in ("S1", "S2"):
        projection.apply(
            entry("CaseDispatched", {**case, "assignee": assignee}, "2017-03-02T10:00:00+08:00")
        )
    counts = projection.case_daily[("D1", 2017, "channel", "video", date(2017, 3, 2))]
    assert counts["dispatched"] == 1
    assert projection.cases[("D1", "C1")]["assignee"] == "S2"
    reported = projection.case_daily[("D1", 2017, "kind", "event", date(2017, 3, 1))]
    assert (reported["reported"], reported["advance_disposals"]) == (1, 1)

    pay = {"line_id": "L1", "amount": "60.00", "economic_class": "302"}
    projection.apply(entry("Disbursed", pay, "2017-04-01T10:00:00+08:00"))
    projection.apply(
        entry(
            "DisbursementReversed",
            {"reverses": "p"},
            "2017-04-03T10:00:00+08:00",
            context={"reversed": {**pay, "spending_department": "D1"}},
        )
    )
    assert projection.line_daily[("L1", date(2017, 4, 3))]["spent"] == Decimal("-60.00")
    assert projection.spending_daily[("L1", date(2017, 4, 3), "302", "D1")] == Decimal("-60.00")
