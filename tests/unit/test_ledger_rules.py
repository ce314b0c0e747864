"""The ledger's rules (domain + decide), without I/O: one batch decided in memory."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from schemas.events import figures_digest
from schemas.messages import JournalContext
from services.ledger.domain import load_aggregate
from services.ledger.judge import decide
from services.ledger.records import Decision, InboundRecord, Parsed, Refused, parse

TOPICS = {"budget.events": "budget", "procurement.events": "procurement", "case.events": "case",
          "evaluation.events": "evaluation"}  # fmt: skip
_offsets = count()


def record(
    event_type: str,
    data: dict[str, Any],
    event_id: str | None = None,
    department: str = "D1",
    topic: str = "budget.events",
    fiscal_year: int = 2017,
    occurred_at: str = "2017-05-01T10:00:00+08:00",
) -> InboundRecord:
    event = {
        "event_id": event_id or f"e{next(_offsets)}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "department": department,
        "fiscal_year": fiscal_year,
        "source": "test",
        "data": data,
    }
    return InboundRecord(topic, 0, next(_offsets), json.dumps(event).encode())


def run(*records: InboundRecord) -> Decision:
    return decide([parse(r, TOPICS) for r in records], {}, {}, {})


def reasons(decision: Decision) -> list[str]:
    return [r.reason for r in decision.refused]


def authorise(
    amount: str = "1000.00", line: str = "L1", event_id: str | None = None, **extra: Any
) -> InboundRecord:
    return record(
        "BudgetAuthorised",
        {"line_id": line, "title": "t", "category": "project", "amount": amount, **extra},
        event_id,
    )


def test_spending_needs_arrived_funds() -> None:
    decision = run(
        authorise(),
        record("FundsArrived", {"line_id": "L1", "amount": "400.00"}),
        record("Disbursed", {"line_id": "L1", "amount": "400.01", "economic_class": "301"}),
        record("Disbursed", {"line_id": "L1", "amount": "400.00", "economic_class": "301"}),
        record("FundsArrived", {"line_id": "L1", "amount": "600.01"}),
        record("FundsTransferred", {"line_id": "L1", "to_department": "D2", "amount": "400.01"}),
    )
    assert reasons(decision) == [
        "disbursement_exceeds_arrived",
        "arrival_exceeds_budget",
        "transfer_exceeds_arrived",
    ]
    assert len(decision.accepted) == 3
    assert decision.refused[0].field == "data.amount"


def test_adjustments_keep_the_budget_above_zero_and_arrived() -> None:
    decision = run(
        authorise("100.00"),
        record("FundsArrived", {"line_id": "L1", "amount": "80.00"}),
        record("BudgetAdjusted", {"line_id": "L1", "amount": "-30.00", "reason": "调减"}),
        record("BudgetAdjusted", {"line_id": "L1", "amount": "-20.00", "reason": "调减"}),
        record("BudgetAdjusted", {"line_id": "L1", "amount": "50.00", "reason": "追加"}),
        record("BudgetAdjusted", {"line_id": "L1", "amount": "-200.00", "reason": "调减"}),
    )
    assert reasons(decision) == ["adjusted_below_arrived", "adjusted_below_zero"]


def test_line_belongs_to_one_department_and_category() -> None:
    decision = run(
        authorise(),
        record("FundsArrived", {"line_id": "L1", "amount": "1.00"}, department="D2"),
        authorise("5.00", category="basic"),
        record("FundsArrived", {"line_id": "nope", "amount": "1.00"}),
    )
    assert reasons(decision) == [
        "line_department_mismatch",
        "line_category_mismatch",
        "unknown_budget_line",
    ]


def test_a_disbursement_is_reversed_once() -> None:
    decision = run(
        authorise(),
        record("FundsArrived", {"line_id": "L1", "amount": "100.00"}),
        record(
            "Disbursed",
            {"line_id": "L1", "amount": "60.00", "economic_class": "302"},
            event_id="pay-1",
        ),
        record("DisbursementReversed", {"reverses": "pay-1", "reason": "wrong payee"}),
        record("DisbursementReversed", {"reverses": "pay-1", "reason": "again"}),
        record("DisbursementReversed", {"reverses": "pay-404", "reason": "?"}),
        record("Disbursed", {"line_id": "L1", "amount": "100.00", "economic_class": "302"}),
    )
    assert reasons(decision) == ["disbursement_already_reversed", "unknown_disbursement"]
    reversal = decision.accepted[3]
    assert reversal.context.reversed is not None
    assert reversal.context.reversed.amount == Decimal("60.00")
    # as stored (ledger.events.context) and published
    assert reversal.context.model_dump(mode="json", exclude_none=True) == {
        "reversed": {
            "line_id": "L1",
            "amount": "60.00",
            "economic_class": "302",
            "spending_department": "D1",
            "funding_source": "appropriation",
        }
    }
    assert reversal.stream_id == "line:L1"


def test_same_event_id_is_a_no_op_or_a_conflict() -> None:
    first = authorise(line="L9")
    again = InboundRecord(first.topic, 0, 999, first.value)
    body = json.loads(first.value)
    body["data"]["amount"] = "2.00"
    conflicting = InboundRecord(first.topic, 0, 1000, json.dumps(body).encode())
    decision = run(first, again, conflicting)
    assert len(decision.accepted) == 1 and decision.duplicates == 1
    assert reasons(decision) == ["duplicate_event_id_conflict"]


def test_case_stages_only_move_forward() -> None:
    def case(event_type: str, **data: Any) -> InboundRecord:
        return record(event_type, {"case_id": "C1", **data}, topic="case.events")

    decision = run(
        case("CaseAccepted"),
        case("CaseReported", channel="video", category="占道经营", kind="event"),
        case("CaseAccepted"),
        case("CaseDispatched", assignee="STREET-1"),
        case("CaseDispatched", assignee="STREET-2"),  # 改派 before disposal is allowed
        case("CaseDisposed"),
        case("CaseDispatched", assignee="STREET-3"),
        case("CaseAccepted"),
        case("CaseClosed"),
        case("CaseClosed"),
    )
    assert reasons(decision) == [
        "unknown_case",
        "case_stage_out_of_order",
        "case_stage_out_of_order",
        "case_stage_out_of_order",
    ]
    assert [a.stream_version for a in decision.accepted] == [1, 2, 3, 4, 5, 6]


def test_a_case_keeps_the_fiscal_year_of_its_report() -> None:
    def case(event_type: str, year: int, **data: Any) -> InboundRecord:
        return record(event_type, {"case_id": "C1", **data}, topic="case.events", fiscal_year=year)

    decision = run(
        case("CaseReported", 2017, channel="video", category="x", kind="event"),
        case("CaseAccepted", 2017),
        case("CaseClosed", 2018),  # closed in January: still a case of 2017
        case("CaseClosed", 2017),
    )
    assert reasons(decision) == ["case_fiscal_year_mismatch"]
    assert decision.refused[0].field == "fiscal_year"
    assert [a.stream_version for a in decision.accepted] == [1, 2, 3]


def test_events_must_come_on_their_topic() -> None:
    decision = run(
        record(
            "CaseReported", {"case_id": "C1", "channel": "video", "category": "x", "kind": "event"}
        )
    )
    assert reasons(decision) == ["wrong_topic"]


def test_times_lie_in_the_fiscal_year_or_one_beside_it() -> None:
    def on(occurred_at: str, deadline_at: str = "2017-06-30T18:00:00+08:00") -> InboundRecord:
        data = {"case_id": "C1", "deadline_at": deadline_at}
        return record("CaseFiled", data, topic="case.events", occurred_at=occurred_at)

    for accepted in ("2016-12-20T10:00:00+08:00", "2018-03-31T23:59:59+08:00"):  # 预算, 决算
        assert isinstance(parse(on(accepted), TOPICS), Parsed)
    refused = [
        parse(r, TOPICS)
        for r in (
            on("9999-12-31T23:59:59Z"),  # its day in Beijing is beyond any date
            on("2015-12-31T23:59:59+08:00"),
            on("2017-06-01T10:00:00+08:00", deadline_at="0001-01-01T00:00:00Z"),
        )
    ]
    assert [(r.reason, r.field) for r in refused] == [
        ("time_outside_fiscal_year", "occurred_at"),
        ("time_outside_fiscal_year", "occurred_at"),
        ("time_outside_fiscal_year", "data.deadline_at"),
    ]
    assert refused[0].message == (
        "occurred_at: 9999-12-31T23:59:59+00:00 is outside 2016-2018, the years of 2017's events"
    )
    # an evaluator writes about a year long after it, but not before it
    goal = {"expected": "保障网格化运行", "author": "evaluator-li"}
    for at, verdict in (("2026-12-07T10:00:00+08:00", Parsed), ("2015-06-01T10:00:00Z", Refused)):
        written = record("GoalStated", goal, topic="evaluation.events", occurred_at=at)
        assert isinstance(parse(written, TOPICS), verdict), (at, parse(written, TOPICS))


def test_procurement_contracts_stay_within_plan() -> None:
    def proc(event_type: str, **data: Any) -> InboundRecord:
        return record(event_type, data, topic="procurement.events")

    decision = run(
        authorise(),
        proc("ContractAwarded", procurement_id="P1", contract_id="K0", supplier="s", amount="1.00"),
        proc(
            "ProcurementPlanned",
            procurement_id="P1",
            line_id="L1",
            amount="500.00",
            method="open_tender",
        ),
        proc(
            "ContractAwarded", procurement_id="P1", contract_id="K1", supplier="s", amount="300.00"
        ),
        proc(
            "ContractAwarded", procurement_id="P1", contract_id="K2", supplier="s", amount="200.01"
        ),
    )
    assert reasons(decision) == ["unknown_procurement", "contract_exceeds_planned"]
    assert decision.accepted[-1].context == JournalContext(line_id="L1")


def test_identical_content_is_judged_canonically() -> None:
    first = authorise(line="L8")
    body = json.loads(first.value)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    decision = run(first, InboundRecord(first.topic, 0, 2000, reordered))
    assert (len(decision.accepted), decision.duplicates, reasons(decision)) == (1, 1, [])


HOUR = timedelta(hours=1)


def test_an_early_event_waits_for_what_it_depends_on() -> None:
    pay = record("Disbursed", {"line_id": "L1", "amount": "400.00", "economic_class": "301"})
    decision = decide(
        [
            parse(r, TOPICS)
            for r in (
                pay,
                authorise(),
                record("FundsArrived", {"line_id": "L1", "amount": "300.00"}),
                record("FundsArrived", {"line_id": "L1", "amount": "100.00"}),
            )
        ],
        {},
        {},
        {},
        hold=HOUR,
    )
    assert reasons(decision) == [] and decision.held == []
    # held first for the unknown line, then for too little funds, accepted once covered
    assert [a.event.event_type for a in decision.accepted] == [
        "BudgetAuthorised",
        "FundsArrived",
        "FundsArrived",
        "Disbursed",
    ]
    assert decision.accepted[-1].record == pay


def test_a_broken_rule_that_no_later_event_can_mend_is_rejected_at_once() -> None:
    decision = decide(
        [
            parse(r, TOPICS)
            for r in (
                authorise("100.00"),
                record("BudgetAdjusted", {"line_id": "L1", "amount": "-200.00", "reason": "x"}),
                record("Disbursed", {"line_id": "L1", "amount": "1.00", "economic_class": "301"}),
            )
        ],
        {},
        {},
        {},
        hold=HOUR,
    )
    assert reasons(decision) == ["adjusted_below_zero"]
    assert [(h.reason, h.waits_for) for h in decision.held] == [
        ("disbursement_exceeds_arrived", "line:L1")
    ]


def test_an_assessment_scheme_scores_from_a_month_not_yet_over() -> None:
    def scheme(month: int, *weights: tuple[str, Any]) -> InboundRecord:  # set on 1 May 2017
        indicators = [{"metric": m, "weight": w} for m, w in weights]
        data = {"effective_month": month, "indicators": indicators}
        return record("AssessmentSchemeSet", data, topic="case.events")

    decision = run(
        scheme(5, ("on_time_rate", 60), ("closure_rate_due", "40")),  # from this month: fine
        scheme(4, ("on_time_rate", 100)),  # April's bulletin was issued
        scheme(6, ("on_time_rate", 60), ("closure_rate_due", 50)),
        scheme(6, ("on_time_rate", 50), ("on_time_rate", 50)),
        scheme(6, ("filing_rate", 100)),
        record(
            "AssessmentSchemeSet",
            {"effective_month": 6, "indicators": [{"metric": "on_time_rate", "weight": 100}]},
        ),  # on budget.events
    )
    assert [a.stream_version for a in decision.accepted] == [1]
    assert reasons(decision) == [
        "scheme_effective_in_past",
        "weights_not_100",
        "duplicate_indicator",
        "invalid_field",
        "wrong_topic",
    ]
    assert [r.field for r in decision.refused[:1]] == ["data.effective_month"]
    assert "2017-04 is before the month the scheme was set (2017-05)" in decision.refused[0].message


def test_the_canonical_payload_is_the_form_earlier_versions_stored() -> None:
    """Content hashes of stored events must keep matching: the canonical payload is the
    compact, key-sorted JSON of the validated event, non-ASCII as is."""
    event = {
        "event_type": "CaseReported",
        "data": {"case_id": "C9", "channel": "wechat", "kind": "event",
                 "category": "占道\u2028经营 \"引号\" \\ / \x01 \t é 😀"},
        "department": "D1", "schema_version": 1, "source": "test", "fiscal_year": 2017,
        "occurred_at": "2017-05-01T10:00:00.250+08:00", "event_id": "e-canonical",
    }  # fmt: skip
    parsed = parse(InboundRecord("case.events", 0, 1, json.dumps(event).encode()), TOPICS)
    assert not isinstance(parsed, Refused)
    expected = json.dumps(
        parsed.event.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert parsed.payload == expected
    assert parsed.content_hash == hashlib.sha256(expected.encode()).digest()


def arrive(amount: str, source: str | None = None) -> InboundRecord:
    data = {"line_id": "L1", "amount": amount}
    return record("FundsArrived", data if source is None else {**data, "funding_source": source})


def spend(amount: str, source: str | None = None, event_id: str | None = None) -> InboundRecord:
    data = {"line_id": "L1", "amount": amount, "economic_class": "302"}
    if source is not None:
        data["funding_source"] = source
    return record("Disbursed", data, event_id)


def test_each_funding_source_spends_only_what_arrived_of_it() -> None:
    decision = run(
        authorise("1000.00"),
        authorise("500.00", funding_source="carryover"),
        arrive("300.00"),  # no funding_source: appropriation, as before
        arrive("200.00", "carryover"),
        arrive("100.00", "other"),  # room on the line: its total rule is not what refuses
        spend("250.00", "carryover"),  # within the line's 500 arrived, not the source's 200
        spend("200.00", "carryover", "pay-c"),
        spend("300.00", "appropriation"),
        spend("0.01"),  # appropriation: all 300 of it spent
        record("DisbursementReversed", {"reverses": "pay-c", "reason": "wrong payee"}),
        spend("150.00", "carryover"),  # the reversal gave 200 back to carryover
        spend("50.01", "carryover"),
        spend("1.00", "special_account"),  # nothing arrived of it
    )
    assert reasons(decision) == ["spending_exceeds_arrived_for_source"] * 4
    first = decision.refused[0]
    assert first.field == "data.amount"
    assert first.message == (
        "data.amount: spent of data.funding_source 'carryover' on line 'L1' would become "
        "250.00, above the 200.00 of that source arrived"
    )
    assert "'appropriation'" in decision.refused[1].message
    assert "'special_account'" in decision.refused[3].message
    reversal = decision.accepted[7]
    assert reversal.context.reversed is not None
    assert reversal.context.reversed.funding_source == "carryover"
    line = decision.aggregates["line:L1"]
    assert line.state()["sources"] == {
        "appropriation": {"budget": "1000.00", "arrived": "300.00", "spent": "300.00"},
        "carryover": {"budget": "500.00", "arrived": "200.00", "spent": "150.00"},
        "other": {"budget": "0", "arrived": "100.00", "spent": "0"},
    }


def test_the_line_total_rule_is_judged_first() -> None:
    decision = run(authorise(), arrive("10.00"), spend("10.01", "carryover"))
    assert reasons(decision) == ["disbursement_exceeds_arrived"]


def test_a_source_budget_stays_above_zero_and_what_arrived_of_it() -> None:
    def adjust(amount: str, source: str | None = None) -> InboundRecord:
        data = {"line_id": "L1", "amount": amount, "reason": "调整"}
        return record(
            "BudgetAdjusted", data if source is None else {**data, "funding_source": source}
        )

    decision = run(
        authorise("100.00"),
        authorise("50.00", funding_source="carryover"),
        arrive("40.00", "carryover"),
        adjust("-20.00", "carryover"),  # 30 < 40 arrived of carryover (the line keeps 130 >= 40)
        adjust("-60.00", "carryover"),
        adjust("-10.00", "carryover"),  # 40: what arrived of it
        adjust("-50.00"),  # appropriation (the default), to 50
        adjust("30.00", "other"),
        adjust("-30.01", "other"),
        adjust("-30.00", "other"),
    )
    assert reasons(decision) == [
        "adjusted_below_arrived_for_source",
        "adjusted_below_zero_for_source",
        "adjusted_below_zero_for_source",
    ]
    assert decision.refused[0].message == (
        "data.amount: the adjusted budget of data.funding_source 'carryover' of line 'L1' would "
        "become 30.00, below the 40.00 of that source already arrived"
    )
    sources = decision.aggregates["line:L1"].state()["sources"]
    assert {k: v["budget"] for k, v in sources.items()} == {
        "appropriation": "50.00",
        "carryover": "40.00",
        "other": "0.00",
    }


def test_spending_early_for_its_source_waits_for_the_source_to_arrive() -> None:
    items = [authorise(), arrive("50.00"), spend("20.00", "unit"), arrive("20.00", "unit")]
    decision = decide([parse(r, TOPICS) for r in items], {}, {}, {}, hold=HOUR)
    assert reasons(decision) == [] and decision.held == []
    assert [a.event.event_type for a in decision.accepted][-1] == "Disbursed"
    held = decide([parse(r, TOPICS) for r in items[:3]], {}, {}, {}, hold=HOUR).held
    assert [(h.reason, h.waits_for) for h in held] == [
        ("spending_exceeds_arrived_for_source", "line:L1")
    ]


def test_without_a_funding_source_an_event_keeps_its_stored_form() -> None:
    """An event that gained data.funding_source keeps, without it (or with the default), the
    canonical payload and content hash earlier versions stored; another source is kept."""
    without, default, other = (
        parse(spend("1.00", source, "pay-canon"), TOPICS)
        for source in (None, "appropriation", "carryover")
    )
    assert not isinstance(without, Refused) and not isinstance(default, Refused)
    assert not isinstance(other, Refused)
    assert "funding_source" not in json.loads(without.payload)["data"]
    assert (default.payload, default.content_hash) == (without.payload, without.content_hash)
    assert json.loads(other.payload)["data"]["funding_source"] == "carryover"
    authorised = parse(authorise(), TOPICS)  # BudgetAuthorised always carried it
    assert not isinstance(authorised, Refused)
    assert json.loads(authorised.payload)["data"]["funding_source"] == "appropriation"


def test_a_line_stored_before_the_sources_were_kept_keeps_its_total_rules() -> None:
    from services.ledger.domain import BudgetLine

    state = {"line_id": "L1", "department": "D1", "fiscal_year": 2017, "category": "project",
             "initial": "100.00", "arrived": "100.00", "spent": "10.00"}  # fmt: skip
    line = BudgetLine.from_state(3, state)
    assert line.sources is None
    decision = decide([parse(spend("80.00", "carryover"), TOPICS)], {}, {"line:L1": line}, {})
    assert reasons(decision) == []
    assert "sources" not in line.state()
    decision = decide([parse(spend("10.01"), TOPICS)], {}, {"line:L1": line}, {})
    assert reasons(decision) == ["disbursement_exceeds_arrived"]


def written(event_type: str, **data: Any) -> InboundRecord:
    """What an evaluator writes, on its topic."""
    return record(event_type, data, topic="evaluation.events")


def test_what_evaluators_write_names_a_target_a_line_and_a_day_of_its_year() -> None:
    figures = {"spent": "1.00", "arrival_rate": None}
    signed = {"signer": "e", "figures": figures, "digest": figures_digest(figures)}
    target = {"target_id": "T1", "line_id": "L1", "level1": "a", "level2": "b", "name": "n",
              "metric": "execution_rate", "comparator": ">=", "value": "1", "unit": "%",
              "weight": 10}  # fmt: skip
    decision = run(
        authorise(),
        written("DeviationExplained", target_id="T1", text="why", author="e"),  # not set yet
        record("PerformanceTargetSet", target),
        written("DeviationExplained", target_id="T1", text="why", author="e"),
        written("GoalStated", line_id="L1", expected="goal", author="e"),
        written("GoalStated", line_id="L9", expected="goal", author="e"),
        written("EvaluationSigned", as_of="2017-08-31", **signed),
        written("EvaluationSigned", as_of="2018-01-01", **signed),
        written("EvaluationSigned", as_of="2017-08-31", **{**signed, "digest": "0" * 64}),
        record("GoalStated", {"expected": "goal", "author": "e"}),  # on budget.events
    )
    assert [a.event.event_type for a in decision.accepted] == [
        "BudgetAuthorised", "PerformanceTargetSet", "DeviationExplained", "GoalStated",
        "EvaluationSigned",
    ]  # fmt: skip
    assert {a.stream_id for a in decision.accepted[1:]} == {"department:D1"}
    assert reasons(decision) == ["unknown_target", "unknown_budget_line", "as_of_outside_year",
                                 "digest_mismatch", "wrong_topic"]  # fmt: skip
    refused = {r.reason: r for r in decision.refused}
    assert refused["unknown_target"].field == "data.target_id"
    assert refused["as_of_outside_year"].message == (
        "data.as_of: 2018-01-01 is outside fiscal year 2017"
    )


def test_a_department_stored_before_its_targets_were_kept_accepts_notes_on_any() -> None:
    stored = {"department:D1": load_aggregate("department:D1", 4, {})}
    note = written("DeviationExplained", target_id="T-OLD", text="why", author="e")
    decision = decide([parse(note, TOPICS)], {}, stored, {})
    assert [a.stream_version for a in decision.accepted] == [5] and not decision.refused
