"""The demo year reproduces the seed report's figures and is the same on every run."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from decimal import Decimal

from demo import guandu2017 as demo


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
    for line, amount in ((demo.BASIC_LINE, "1289300.00"), (demo.PROJECT_LINE_GRID, "2936700.00")):
        for kind in ("BudgetAuthorised", "FundsArrived", "Disbursed"):
            assert total[(kind, line)] == Decimal(amount)


def test_case_figures_come_from_the_report_and_are_reproducible() -> None:
    stages: Counter[str] = Counter()
    public: Counter[str] = Counter()
    advance: Counter[str] = Counter()
    digest = hashlib.sha256()
    for e in demo.case_events():
        digest.update(json.dumps(e, ensure_ascii=False).encode())
        stages[e["event_type"]] += 1
        if e["data"].get("channel") == "public_hotline":
            public[e["event_type"]] += 1
        if e["data"].get("advance_disposal"):
            advance[e["data"]["kind"]] += 1
    assert stages["CaseAccepted"] == 452_034 and stages["CaseClosed"] == 437_273
    assert public["CaseReported"] == 5_475
    assert advance == {"component": 932, "event": 18_592}
    again = hashlib.sha256()
    for e in demo.case_events():
        again.update(json.dumps(e, ensure_ascii=False).encode())
    assert again.hexdigest() == digest.hexdigest()
