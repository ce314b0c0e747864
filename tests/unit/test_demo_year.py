"""The demo year reproduces the seed report's figures and is the same on every run."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from decimal import Decimal

from demo import guandu2017 as demo
from services.ledger.judge import decide
from services.ledger.records import InboundRecord, parse

TOPICS = {"budget.events": "budget", "procurement.events": "procurement", "case.events": "case"}


def test_budget_figures_come_from_the_report() -> None:
    events = list(demo.budget_events())
    assert events == list(demo.budget_events())  # deterministic
    total: Counter[tuple[str, str]] = Counter()
    for e in events:
        if "amount" in e["data"]:
            total[(e["event_type"], e["data"]["line_id"])] += Decimal(e["data"]["amount"])
    zhgd = demo.ZHGD_LINE
    assert total[("BudgetAuthorised", zhgd)] == Decimal("36890100.00")
    assert total[("FundsArrived", zhgd)] == Decimal("26942600.00")
    assert total[("FundsTransferred", zhgd)] == Decimal("9297200.00") + Decimal("17645400.00")
    assert total[("Disbursed", zhgd)] == Decimal("3907946.12")
    assert total[("Disbursed", demo.PROJECT_LINE_GRID)] == Decimal("2936700.00")
    # "基本支出数为128.93万元", of which "三公" 0.37万 of a 0.5万 budget, the rest taken back
    sangong = demo.SANGONG_LINE
    assert total[("Disbursed", demo.BASIC_LINE)] + total[("Disbursed", sangong)] == Decimal(
        "1289300.00"
    )
    assert (total[("BudgetAuthorised", sangong)], total[("Disbursed", sangong)]) == (
        Decimal("5000.00"),
        Decimal("3700.00"),
    )
    for line in (demo.BASIC_LINE, demo.PROJECT_LINE_GRID, sangong):  # execution 100 %
        adjusted = total[("BudgetAuthorised", line)] + total[("BudgetAdjusted", line)]
        assert adjusted == total[("FundsArrived", line)] == total[("Disbursed", line)]


def test_case_figures_come_from_the_report_and_are_reproducible() -> None:
    stages: Counter[str] = Counter()
    public: Counter[str] = Counter()
    advance: Counter[str] = Counter()
    assignees: Counter[str] = Counter()
    digest = hashlib.sha256()
    for e in demo.case_events():
        digest.update(json.dumps(e, ensure_ascii=False).encode())
        stages[e["event_type"]] += 1
        if e["data"].get("channel") == "public_hotline":
            public[e["event_type"]] += 1
        if e["data"].get("advance_disposal"):
            advance[e["data"]["kind"]] += 1
        if e["event_type"] == "CaseDispatched":
            assignees[e["data"]["assignee"]] += 1
    assert stages["CaseAccepted"] == 452_034 and stages["CaseClosed"] == 437_273
    assert public["CaseReported"] == 5_475
    assert advance == {"component": 932, "event": 18_592}
    # every case but the advance disposals is filed and dispatched (some twice: 改派) to the
    # 8 streets and 4 bureaus
    assert stages["CaseFiled"] == 452_034 - 19_524
    assert stages["CaseFiled"] < stages["CaseDispatched"] < stages["CaseFiled"] * 1.05
    assert set(assignees) == {code for code, *_ in demo.STREETS + demo.FUNCTIONAL}
    again = hashlib.sha256()
    for e in demo.case_events():
        again.update(json.dumps(e, ensure_ascii=False).encode())
    assert again.hexdigest() == digest.hexdigest()


def test_the_previous_year_is_there_for_the_comparison() -> None:
    events = [e for _, e in demo.previous_year_events()]
    assert {e["fiscal_year"] for e in events} == {2016}
    spent = sum(
        Decimal(e["data"]["amount"])
        for e in events
        if e["event_type"] == "Disbursed" and e["data"]["line_id"].endswith("SANGONG")
    )
    assert spent == Decimal("4400.00") > Decimal("3700.00")  # "比2016年有所减少"
    stages = Counter(e["event_type"] for e in events)
    assert (stages["CaseAccepted"], stages["CaseClosed"]) == (96_000, 90_432)


def test_the_ledger_accepts_every_budget_event_of_the_demo() -> None:
    """Under every rule, the funding-source ones too (the demo names no source: each of its
    events is of the default, appropriation)."""
    events = [("budget", e) for e in demo.budget_events()]
    events += [("case", e) for e in demo.assessment_schemes()]
    events += [(g, e) for g, e in demo.previous_year_events() if g != "case"]
    records = [
        parse(InboundRecord(f"{group}.events", 0, n, json.dumps(e).encode()), TOPICS)
        for n, (group, e) in enumerate(events)
    ]
    decision = decide(records, {}, {}, {})
    assert [(r.reason, r.message) for r in decision.refused] == []
    assert len(decision.accepted) == len(events) and not decision.held
