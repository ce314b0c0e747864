"""A deterministic inbound workload full of conflicts, for the ledger's robustness tests.

Departments each own budget lines and cases. Besides valid traffic, it over-spends,
over-arrives, cuts budgets below what arrived, reverses disbursements twice, re-sends
events (identical: no-ops) and re-uses event ids with other content (conflicts), sends
malformed amounts and case stages out of order. Every department's events go to one
partition per topic, so the verdicts depend only on the order within each partition.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

CASE_STEPS = ["CaseAccepted", "CaseFiled", "CaseDispatched", "CaseDisposed", "CaseClosed"]


def workload(total: int, seed: int = 2017, departments: int = 12) -> Iterator[tuple[str, dict]]:
    rnd = random.Random(seed)
    codes = [f"W{d:02d}" for d in range(departments)]
    lines: dict[str, list[str]] = {code: [] for code in codes}
    disbursed: dict[str, list[str]] = {code: [] for code in codes}
    cases: dict[str, list[tuple[str, int]]] = {code: [] for code in codes}
    history: list[tuple[str, dict[str, Any]]] = []
    serial = 0

    def event(code: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        nonlocal serial
        serial += 1
        day = 1 + serial * 364 // total
        return {
            "event_id": f"w-{serial}",
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": f"2017-{1 + (day - 1) // 31 % 12:02d}-{1 + (day - 1) % 28:02d}"
            "T10:00:00+08:00",
            "department": code,
            "fiscal_year": 2017,
            "source": "workload",
            "data": data,
        }

    def money(low: int, high: int) -> str:
        return f"{rnd.randint(low, high)}.{rnd.randint(0, 99):02d}"

    for _ in range(total):
        code = rnd.choice(codes)
        roll = rnd.random()
        group = "budget"
        if not lines[code] or roll < 0.03:
            line = f"{code}-L{len(lines[code])}"
            lines[code].append(line)
            data: dict[str, Any] = {
                "line_id": line,
                "title": "workload line",
                "category": rnd.choice(["basic", "project"]),
                "amount": money(50_000, 200_000),
            }
            item = event(code, "BudgetAuthorised", data)
        elif roll < 0.05 and history:  # the same record again (upstream re-sent it): a no-op
            group, item = rnd.choice(history)
        elif roll < 0.06 and history:  # an old event_id with other content: a conflict
            group, old = rnd.choice(history)
            item = {**old, "source": "other-system"}
        elif roll < 0.07:  # a float amount: rejected by the contract
            item = event(code, "FundsArrived", {"line_id": rnd.choice(lines[code]), "amount": 1.5})
        elif roll < 0.22:
            line = rnd.choice(lines[code])
            item = event(code, "FundsArrived", {"line_id": line, "amount": money(1_000, 60_000)})
        elif roll < 0.40:
            line = rnd.choice(lines[code])
            data = {"line_id": line, "amount": money(100, 30_000), "economic_class": "302"}
            item = event(code, "Disbursed", data)
            disbursed[code].append(item["event_id"])
        elif roll < 0.43 and disbursed[code]:
            data = {"reverses": rnd.choice(disbursed[code]), "reason": "wrong payee"}
            item = event(code, "DisbursementReversed", data)
        elif roll < 0.46:
            line = rnd.choice(lines[code])
            data = {"line_id": line, "to_department": f"{code}-SUB", "amount": money(100, 5_000)}
            item = event(code, "FundsTransferred", data)
        elif roll < 0.50:
            data = {"line_id": rnd.choice(lines[code]), "amount": "-" + money(1_000, 90_000)}
            item = event(code, "BudgetAdjusted", {**data, "reason": "调减"})
        elif roll < 0.62 or not cases[code]:
            group, case_id = "case", f"C{serial}"
            cases[code].append((case_id, -1))
            data = {"case_id": case_id, "channel": "video", "category": "占道经营", "kind": "event"}
            item = event(code, "CaseReported", data)
        else:  # the next stage of a case, or (1 in 10) a stage it already passed
            group = "case"
            index = rnd.randrange(len(cases[code]))
            case_id, stage = cases[code][index]
            step = stage + 1 if rnd.random() < 0.9 or stage < 1 else rnd.randint(0, stage)
            if step >= len(CASE_STEPS):
                step = len(CASE_STEPS) - 1
            cases[code][index] = (case_id, max(stage, step))
            data = {"case_id": case_id}
            if CASE_STEPS[step] == "CaseFiled":
                data["deadline_at"] = "2017-12-31T18:00:00+08:00"
            if CASE_STEPS[step] == "CaseDispatched":
                data["assignee"] = f"{code}-STREET"
            item = event(code, CASE_STEPS[step], data)
        history.append((group, item))
        yield group, item
