"""Pure projection logic: fold journal entries into the deltas of one batch.

A ``BatchProjection`` starts from the case rows the batch touches (loaded by the
caller), applies each journal entry with an ``on_<EventType>`` method, and leaves
additive daily deltas and upserted rows for store.py to write in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

LINE_MEASURES = (
    "initial_budget",
    "adjusted_budget",
    "arrived",
    "transferred",
    "spent",
    "procurement_planned",
    "contracted",
)
CASE_COUNTS = (
    "reported",
    "accepted",
    "filed",
    "dispatched",
    "disposed",
    "closed",
    "advance_disposals",
    "closed_on_time",  # closed at or before its deadline_at
    "closed_accepted",  # closed, and accepted before (open = accepted - closed_accepted)
)
# a filed case not closed yet sits in case_deadlines under this closing day
NOT_CLOSED = date(9999, 12, 31)
CASE_DIMENSIONS = ("channel", "category", "kind")
# counts a case carries to its assignee (the department it is dispatched to) from the day of
# the dispatch, and from one assignee to the next on a re-dispatch (改派)
HANDED_OVER = {"reported": "reported_at", "accepted": "accepted_at", "filed": "filed_at"}
# stage event -> (case column holding its time, count it increments)
CASE_STAGE_COLUMNS = {
    "CaseReported": ("reported_at", "reported"),
    "CaseAccepted": ("accepted_at", "accepted"),
    "CaseFiled": ("filed_at", "filed"),
    "CaseDispatched": ("dispatched_at", "dispatched"),
    "CaseDisposed": ("disposed_at", "disposed"),
    "CaseClosed": ("closed_at", "closed"),
}
CASE_COLUMNS = (
    "department",
    "case_id",
    "fiscal_year",
    "channel",
    "category",
    "kind",
    "advance_disposal",
    "reported_at",
    "accepted_at",
    "filed_at",
    "deadline_at",
    "dispatched_at",
    "assignee",
    "disposed_at",
    "closed_at",
)


@dataclass
class BatchProjection:
    timezone: ZoneInfo
    cases: dict[tuple[str, str], dict[str, Any]]
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)
    line_daily: defaultdict[tuple[str, date], dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(LINE_MEASURES, Decimal(0)))
    )
    spending_daily: defaultdict[tuple[str, date, str, str], Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    case_daily: defaultdict[tuple[str, int, str, str, date], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(CASE_COUNTS, 0))
    )
    # filed cases by (department, year, dimension, value, deadline day, closing day, the day
    # from which the row counts)
    case_deadlines: defaultdict[tuple[str, int, str, str, date, date, date], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    touched_cases: set[tuple[str, str]] = field(default_factory=set)
    targets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (department, year, indicator, unit, line_id or '', day) -> quantity
    outputs_daily: defaultdict[tuple[str, int, str, str, str, date], Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )

    # (department, journal position) -> an assessment scheme, kept whole: the scheme of a
    # month is the last one recorded (as of a date) whose effective month has begun
    schemes: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    # the entry being applied: when its event occurred, and on which day (in the time zone)
    at: datetime = field(init=False)
    day: date = field(init=False)

    def apply(self, entry: dict[str, Any]) -> None:
        event = entry["event"]
        self.at = datetime.fromisoformat(event["occurred_at"])
        self.day = self.at.astimezone(self.timezone).date()
        if event["event_type"] == "AssessmentSchemeSet":  # needs the journal position
            self.on_AssessmentSchemeSet(event, entry["position"])
            return
        handler = getattr(self, "on_" + event["event_type"])
        handler(event, entry.get("context") or {})

    # --- budget --------------------------------------------------------------------------------

    def _line(self, event: dict[str, Any], line_id: str, **measures: Decimal) -> None:
        bucket = self.line_daily[(line_id, self.day)]
        for name, amount in measures.items():
            bucket[name] += amount

    def on_DepartmentRegistered(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        data = event["data"]
        self.departments[event["department"]] = {
            "code": event["department"],
            "name": data["name"],
            "parent": data.get("parent"),
            "headcount_authorised": data.get("headcount_authorised"),
            "headcount_actual": data.get("headcount_actual"),
        }

    def on_BudgetAuthorised(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        data = event["data"]
        self.lines.setdefault(
            data["line_id"],
            {
                "line_id": data["line_id"],
                "department": event["department"],
                "fiscal_year": event["fiscal_year"],
                "title": data["title"],
                "category": data["category"],
                "funding_source": data.get("funding_source", "appropriation"),
                "sangong": data.get("sangong"),
            },
        )
        amount = Decimal(data["amount"])
        self._line(event, data["line_id"], initial_budget=amount, adjusted_budget=amount)

    def on_BudgetAdjusted(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._line(
            event, event["data"]["line_id"], adjusted_budget=Decimal(event["data"]["amount"])
        )

    def on_FundsArrived(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._line(event, event["data"]["line_id"], arrived=Decimal(event["data"]["amount"]))

    def on_FundsTransferred(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._line(event, event["data"]["line_id"], transferred=Decimal(event["data"]["amount"]))

    def _spend(self, event: dict[str, Any], disbursement: dict[str, Any], sign: int) -> None:
        amount = Decimal(disbursement["amount"]) * sign
        line_id = disbursement["line_id"]
        self._line(event, line_id, spent=amount)
        spender = disbursement.get("spending_department") or event["department"]
        key = (line_id, self.day, disbursement["economic_class"], spender)
        self.spending_daily[key] += amount

    def on_Disbursed(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._spend(event, event["data"], +1)

    def on_DisbursementReversed(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        # the ledger attaches the reversed disbursement; the reversal counts on its own date
        self._spend(event, context["reversed"], -1)

    def on_ProcurementPlanned(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        data = event["data"]
        self._line(event, data["line_id"], procurement_planned=Decimal(data["amount"]))

    def on_ContractAwarded(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._line(event, context["line_id"], contracted=Decimal(event["data"]["amount"]))

    # --- targets and outputs ------------------------------------------------------------------

    def on_PerformanceTargetSet(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        data = event["data"]  # the same target_id again replaces the target
        self.targets[(event["department"], data["target_id"])] = {
            "department": event["department"],
            "target_id": data["target_id"],
            "fiscal_year": event["fiscal_year"],
            "line_id": data.get("line_id"),
            "level1": data["level1"],
            "level2": data["level2"],
            "name": data["name"],
            "metric": data["metric"],
            "comparator": data["comparator"],
            "value": Decimal(data["value"]),
            "unit": data["unit"],
            "weight": Decimal(str(data["weight"])),
        }

    def on_OutputRecorded(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        data = event["data"]
        key = (event["department"], event["fiscal_year"], data["indicator"], data["unit"],
               data.get("line_id") or "", self.day)  # fmt: skip
        self.outputs_daily[key] += Decimal(data["quantity"])

    def on_AssessmentSchemeSet(self, event: dict[str, Any], position: int) -> None:
        data = event["data"]
        self.schemes[(event["department"], position)] = {
            "department": event["department"],
            "position": position,
            "fiscal_year": event["fiscal_year"],
            "effective_month": data["effective_month"],
            "set_day": self.day,
            "indicators": [
                {"metric": i["metric"], "name": i.get("name"), "weight": str(i["weight"])}
                for i in data["indicators"]
            ],
            "document": data.get("document"),
        }

    # --- cases ---------------------------------------------------------------------------------

    def _stage(self, event: dict[str, Any]) -> dict[str, Any]:
        key = (event["department"], event["data"]["case_id"])
        case = self.cases[key]  # the ledger accepts no stage before CaseReported
        column, count = CASE_STAGE_COLUMNS[event["event_type"]]
        first_time = case[column] is None  # a re-dispatch does not count the case again
        case[column] = self.at
        self.touched_cases.add(key)
        if first_time:
            self._count(event, case, count)
            if count == "reported" and case["advance_disposal"]:
                self._count(event, case, "advance_disposals")
        return case

    @staticmethod
    def _dimensions(case: dict[str, Any]) -> list[tuple[str, str]]:
        values = [(dimension, case[dimension]) for dimension in CASE_DIMENSIONS]
        if case["assignee"] is not None:
            values.append(("assignee", case["assignee"]))
        return values

    def _count(
        self,
        event: dict[str, Any],
        case: dict[str, Any],
        count: str,
        n: int = 1,
        only: list[tuple[str, str]] | None = None,
    ) -> None:
        day = self.day
        for dimension, value in only or self._dimensions(case):
            key = (event["department"], event["fiscal_year"], dimension, value, day)
            self.case_daily[key][count] += n

    def _deadline(
        self,
        event: dict[str, Any],
        case: dict[str, Any],
        closed: date,
        n: int,
        only: list[tuple[str, str]] | None = None,
    ) -> None:
        deadline = case["deadline_at"].astimezone(self.timezone).date()
        since = self.day
        for dimension, value in only or self._dimensions(case):
            key = (event["department"], event["fiscal_year"], dimension, value)
            self.case_deadlines[(*key, deadline, closed, since)] += n

    def _hand_over(self, event: dict[str, Any], case: dict[str, Any], previous: str | None) -> None:
        """From today the case counts for its new assignee, no longer for the previous one."""
        counts = ["dispatched", *(c for c, column in HANDED_OVER.items() if case[column])]
        if case["advance_disposal"]:
            counts.append("advance_disposals")
        moves = [(+1, [("assignee", case["assignee"])])]
        if previous is not None:
            moves.append((-1, [("assignee", previous)]))
        for n, assignee in moves:
            for count in counts:
                self._count(event, case, count, n, assignee)
            if case["deadline_at"] is not None:  # filed, and open: dispatch precedes closure
                self._deadline(event, case, NOT_CLOSED, n, assignee)

    def on_CaseReported(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        data = event["data"]
        self.cases[(event["department"], data["case_id"])] = {
            **dict.fromkeys(CASE_COLUMNS),
            "department": event["department"],
            "case_id": data["case_id"],
            "fiscal_year": event["fiscal_year"],
            "channel": data["channel"],
            "category": data["category"],
            "kind": data["kind"],
            "advance_disposal": bool(data.get("advance_disposal")),
        }
        self._stage(event)

    def on_CaseAccepted(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._stage(event)

    def on_CaseFiled(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        case = self._stage(event)
        case["deadline_at"] = datetime.fromisoformat(event["data"]["deadline_at"])
        self._deadline(event, case, NOT_CLOSED, +1)

    def on_CaseDispatched(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        case = self._stage(event)  # before the assignee is set: counted once per case
        previous, case["assignee"] = case["assignee"], event["data"]["assignee"]
        if previous != case["assignee"]:
            self._hand_over(event, case, previous)

    def on_CaseDisposed(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._stage(event)

    def on_CaseClosed(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        case = self._stage(event)
        if case["accepted_at"] is not None:
            self._count(event, case, "closed_accepted")
        if case["deadline_at"] is not None:  # filed: it was due, and is no longer open
            if case["closed_at"] <= case["deadline_at"]:
                self._count(event, case, "closed_on_time")
            self._deadline(event, case, NOT_CLOSED, -1)
            self._deadline(event, case, self.day, +1)
