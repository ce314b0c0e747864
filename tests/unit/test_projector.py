"""Projection folding and the contract's rounding, without I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.events import ALL_EVENTS, figures_digest
from schemas.money import rate
from services.common.projections import APPLIED_POSITIONS, TABLES
from services.performance.projector import BatchProjection
from tests.fakes_performance import entry, typed


def test_rates_round_half_up_to_four_places() -> None:
    assert rate(Decimal("26942600.00"), Decimal("36890100.00")) == Decimal("0.7303")
    assert rate(1, 8) == Decimal("0.1250")
    assert rate(Decimal("0.00005"), 1) == Decimal("0.0001")  # half-up, not half-even
    assert rate(5, 0) is None


def test_days_end_in_the_department_time_zone() -> None:
    projection = BatchProjection(ZoneInfo("Asia/Shanghai"), {})
    # 16:30 UTC on 31 Aug is 00:30 on 1 Sep in Shanghai
    projection.apply(
        entry(1, "FundsArrived", "2017-08-31T16:30:00+00:00", line_id="L1", amount="5.00")
    )
    assert list(projection.line_daily) == [("L1", date(2017, 9, 1))]


def test_a_redispatched_case_counts_once_and_reversals_subtract() -> None:
    projection = BatchProjection(ZoneInfo("Asia/Shanghai"), {})
    case: dict[str, Any] = {"case_id": "C1"}
    projection.apply(
        entry(1, "CaseReported", "2017-03-01T10:00:00+08:00", **case, channel="video",
              category="x", kind="event", advance_disposal=True)
    )  # fmt: skip
    for position, assignee in ((2, "S1"), (3, "S2")):
        projection.apply(
            entry(position, "CaseDispatched", "2017-03-02T10:00:00+08:00", **case,
                  assignee=assignee)
        )  # fmt: skip
    counts = projection.case_daily[("D1", 2017, "channel", "video", date(2017, 3, 2))]
    assert counts["dispatched"] == 1
    assert projection.cases[("D1", "C1")]["assignee"] == "S2"
    reported = projection.case_daily[("D1", 2017, "kind", "event", date(2017, 3, 1))]
    assert (reported["reported"], reported["advance_disposals"]) == (1, 1)

    pay: dict[str, Any] = {"line_id": "L1", "amount": "60.00", "economic_class": "302"}
    projection.apply(entry(4, "Disbursed", "2017-04-01T10:00:00+08:00", **pay))
    projection.apply(
        entry(5, "DisbursementReversed", "2017-04-03T10:00:00+08:00", reverses="p",
              reason="wrong", context={"reversed": {**pay, "spending_department": "D1"}})
    )  # fmt: skip
    assert projection.line_daily[("L1", date(2017, 4, 3))]["spent"] == Decimal("-60.00")
    assert projection.spending_daily[("L1", date(2017, 4, 3), "302", "D1")] == Decimal("-60.00")


def test_money_is_bucketed_per_funding_source() -> None:
    projection = BatchProjection(ZoneInfo("Asia/Shanghai"), {})
    at = "2017-04-01T10:00:00+08:00"
    line: dict[str, Any] = {"line_id": "L1", "title": "t", "category": "project"}
    for position, (event_type, data) in enumerate(
        [
            ("BudgetAuthorised", {**line, "amount": "100.00"}),
            ("BudgetAuthorised", {**line, "amount": "50.00", "funding_source": "carryover"}),
            ("BudgetAdjusted", {"line_id": "L1", "amount": "-10.00", "reason": "调减"}),
            ("BudgetAdjusted", {"line_id": "L1", "amount": "5.00", "reason": "r",
                                "funding_source": "other"}),
            ("FundsArrived", {"line_id": "L1", "amount": "30.00", "funding_source": "carryover"}),
            ("Disbursed", {"line_id": "L1", "amount": "20.00", "economic_class": "302",
                           "funding_source": "carryover"}),
        ],
        start=1,
    ):  # fmt: skip
        projection.apply(entry(position, event_type, at, **data))
    reversed_pay = {"line_id": "L1", "amount": "20.00", "economic_class": "302",
                    "spending_department": "D1", "funding_source": "carryover"}  # fmt: skip
    projection.apply(
        entry(7, "DisbursementReversed", "2017-04-02T10:00:00+08:00", reverses="p",
              reason="wrong", context={"reversed": reversed_pay})
    )  # fmt: skip
    zero = Decimal(0)
    day, next_day = date(2017, 4, 1), date(2017, 4, 2)
    assert dict(projection.source_daily) == {
        ("L1", day, "appropriation"): {"initial_budget": Decimal("100.00"),
            "adjusted_budget": Decimal("90.00"), "arrived": zero, "spent": zero},
        ("L1", day, "carryover"): {"initial_budget": Decimal("50.00"),
            "adjusted_budget": Decimal("50.00"), "arrived": Decimal("30.00"),
            "spent": Decimal("20.00")},
        ("L1", day, "other"): {"initial_budget": zero, "adjusted_budget": Decimal("5.00"),
            "arrived": zero, "spent": zero},
        ("L1", next_day, "carryover"): {"initial_budget": zero, "adjusted_budget": zero,
            "arrived": zero, "spent": Decimal("-20.00")},
    }  # fmt: skip
    assert projection.line_daily[("L1", day)]["adjusted_budget"] == Decimal("145.00")


def test_every_event_type_has_a_handler_typed_with_its_model() -> None:
    for model in ALL_EVENTS:
        handler = getattr(BatchProjection, f"on_{model.__name__}")
        assert handler.__annotations__["event"] == f"ev.{model.__name__}"


def test_an_award_without_its_line_in_the_context_is_refused() -> None:
    projection = BatchProjection(ZoneInfo("Asia/Shanghai"), {})
    award = entry(1, "ContractAwarded", "2017-05-01T10:00:00+08:00", procurement_id="P",
                  contract_id="K", supplier="s", amount="10.00")  # fmt: skip
    with pytest.raises(ValueError, match="names no budget line"):
        projection.apply(award)


def test_the_rows_written_have_the_declared_columns() -> None:
    projection = BatchProjection(ZoneInfo("Asia/Shanghai"), {})
    at = "2017-03-01T10:00:00+08:00"
    events: list[tuple[str, dict[str, Any]]] = [
        ("DepartmentRegistered", {"name": "D"}),
        ("BudgetAuthorised", {"line_id": "L", "title": "t", "category": "basic",
                              "amount": "9.00"}),
        ("Disbursed", {"line_id": "L", "amount": "1.00", "economic_class": "302"}),
        ("CaseReported", {"case_id": "C", "channel": "c", "category": "x", "kind": "event"}),
        ("CaseFiled", {"case_id": "C", "deadline_at": "2017-03-03T10:00:00+08:00"}),
        ("PerformanceTargetSet", {"target_id": "T", "level1": "a", "level2": "b", "name": "n",
                                  "metric": "closure_rate", "comparator": ">=", "value": "0.9",
                                  "unit": "%", "weight": 10}),
        ("OutputRecorded", {"indicator": "i", "quantity": "3", "unit": "u"}),
        ("AssessmentSchemeSet", {"effective_month": 1,
                                 "indicators": [{"metric": "closure_rate", "weight": 100}]}),
        ("DeviationExplained", {"target_id": "T", "text": "why", "author": "e"}),
        ("GoalStated", {"expected": "goal", "author": "e"}),
        ("EvaluationSigned", {"as_of": "2017-03-01", "signer": "e", "figures": {"spent": "1.00"},
                              "digest": figures_digest({"spent": "1.00"})}),
    ]  # fmt: skip
    for position, (event_type, data) in enumerate(events, start=1):
        projection.apply(entry(position, event_type, at, **data))
    written = dict(projection.rows())
    assert set(written) == set(TABLES) - {APPLIED_POSITIONS}
    for table, rows in written.items():
        assert rows, table.name
        assert {len(row) for row in rows} == {len(table.columns)}, table.name


def test_a_payment_folds_the_same_in_either_version() -> None:
    """Disbursed v1 (one economic code, money as a string) and v2 (class and item, money with
    its currency) of the same payment give the same rows, reversed or not."""
    at, line = "2017-04-01T10:00:00+08:00", {"line_id": "L1", "spending_department": "D2"}
    v1 = typed({"position": 1, "event": {"event_type": "Disbursed", "department": "D1",
                "fiscal_year": 2017, "occurred_at": at,
                "data": {**line, "amount": "60.00", "economic_class": "30211"}}})  # fmt: skip
    v2_data = {**line, "amount": {"value": "60.00", "currency": "CNY"},
               "economic_class": "302", "economic_item": "11"}  # fmt: skip
    v2 = typed({"position": 1, "event": {**v1.event.model_dump(mode="json"), "schema_version": 2,
                                         "data": v2_data}})  # fmt: skip
    assert (v1.event.schema_version, v2.event.schema_version) == (1, 2)
    folded = []
    for payment in (v1, v2):
        projection = BatchProjection(ZoneInfo("Asia/Shanghai"), {})
        projection.apply(payment)
        folded.append({table.name: rows for table, rows in projection.rows()})
    assert folded[0] == folded[1]
    assert ("L1", date(2017, 4, 1), "30211", "D2") in projection.spending_daily
