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


Item = tuple[str, dict[str, Any]]  # topic group, event


def workload(total: int, seed: int = 2017, departments: int = 12) -> Iterator[Item]:
    """``total`` records, the same for the same arguments."""
    state = _Workload(total, random.Random(seed), [f"W{d:02d}" for d in range(departments)])
    for _ in range(total):
        code = state.rnd.choice(state.codes)
        roll = state.rnd.random()
        budget = roll < 0.50 or not state.lines[code]
        item = state.budget(code, roll) if budget else state.case(code, roll)
        state.history.append(item)
        yield item


class _Workload:
    def __init__(self, total: int, rnd: random.Random, codes: list[str]) -> None:
        self.total, self.rnd, self.codes = total, rnd, codes
        self.lines: dict[str, list[str]] = {code: [] for code in codes}
        self.disbursed: dict[str, list[str]] = {code: [] for code in codes}
        self.cases: dict[str, list[tuple[str, int]]] = {code: [] for code in codes}
        self.history: list[Item] = []
        self.serial = 0

    def event(self, code: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        self.serial += 1
        day = 1 + self.serial * 364 // self.total
        return {
            "event_id": f"w-{self.serial}",
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": f"2017-{1 + (day - 1) // 31 % 12:02d}-{1 + (day - 1) % 28:02d}"
            "T10:00:00+08:00",
            "department": code,
            "fiscal_year": 2017,
            "source": "workload",
            "data": data,
        }

    def money(self, low: int, high: int) -> str:
        return f"{self.rnd.randint(low, high)}.{self.rnd.randint(0, 99):02d}"

    def budget(self, code: str, roll: float) -> Item:
        """A budget record (``roll`` < 0.5 says which), or an old record again."""
        rnd, lines, disbursed = self.rnd, self.lines[code], self.disbursed[code]
        if not lines or roll < 0.03:
            line = f"{code}-L{len(lines)}"
            lines.append(line)
            category = rnd.choice(["basic", "project"])
            amount = self.money(50_000, 200_000)
            data: dict[str, Any] = {"line_id": line, "title": "workload line",
                                    "category": category, "amount": amount}  # fmt: skip
            return "budget", self.event(code, "BudgetAuthorised", data)
        if roll < 0.05 and self.history:  # the same record again (upstream re-sent it): a no-op
            return rnd.choice(self.history)
        if roll < 0.06 and self.history:  # an old event_id with other content: a conflict
            group, old = rnd.choice(self.history)
            return group, {**old, "source": "other-system"}
        if roll < 0.07:  # a float amount: rejected by the contract
            event_type, data = "FundsArrived", {"line_id": rnd.choice(lines), "amount": 1.5}
        elif roll < 0.22:
            line = rnd.choice(lines)
            event_type = "FundsArrived"
            data = {"line_id": line, "amount": self.money(1_000, 60_000)}
        elif roll < 0.40:
            line = rnd.choice(lines)
            event_type = "Disbursed"
            data = {"line_id": line, "amount": self.money(100, 30_000), "economic_class": "302"}
            disbursed.append(f"w-{self.serial + 1}")
        elif roll < 0.43 and disbursed:
            event_type = "DisbursementReversed"
            data = {"reverses": rnd.choice(disbursed), "reason": "wrong payee"}
        elif roll < 0.46:
            line = rnd.choice(lines)
            event_type = "FundsTransferred"
            amount = self.money(100, 5_000)
            data = {"line_id": line, "to_department": f"{code}-SUB", "amount": amount}
        else:
            data = {"line_id": rnd.choice(lines), "amount": "-" + self.money(1_000, 90_000)}
            event_type, data = "BudgetAdjusted", {**data, "reason": "调减"}
        return "budget", self.event(code, event_type, data)

    def case(self, code: str, roll: float) -> Item:
        """A case reported, or the next stage of one (1 in 10: a stage it already passed)."""
        rnd, cases = self.rnd, self.cases[code]
        if roll < 0.62 or not cases:
            case_id = f"C{self.serial}"
            cases.append((case_id, -1))
            data = {"case_id": case_id, "channel": "video", "category": "占道经营", "kind": "event"}
            return "case", self.event(code, "CaseReported", data)
        index = rnd.randrange(len(cases))
        case_id, stage = cases[index]
        step = stage + 1 if rnd.random() < 0.9 or stage < 1 else rnd.randint(0, stage)
        step = min(step, len(CASE_STEPS) - 1)
        cases[index] = (case_id, max(stage, step))
        data = {"case_id": case_id}
        if CASE_STEPS[step] == "CaseFiled":
            data["deadline_at"] = "2017-12-31T18:00:00+08:00"
        if CASE_STEPS[step] == "CaseDispatched":
            data["assignee"] = f"{code}-STREET"
        return "case", self.event(code, CASE_STEPS[step], data)
