"""Pure projection logic: fold journal entries into the deltas of one batch.

A ``BatchProjection`` starts from the case rows the batch touches (loaded by the
caller), applies each typed journal entry with an ``on_<EventType>`` method, and leaves
additive daily deltas and upserted rows for the store to write in one transaction, as rows
of the tables declared in services/common/projections.py (``rows``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from schemas import events as ev
from schemas.messages import JournalContext, JournalEntry, ReversedDisbursement
from schemas.versions import upcast
from services.common.projections import (
    ASSESSMENT_SCHEMES,
    CASE_DAILY,
    CASE_DEADLINES,
    CASES,
    DEPARTMENTS,
    DEVIATION_NOTES,
    GOALS,
    LINE_DAILY,
    LINE_MEASURES,
    LINE_SOURCE_DAILY,
    LINE_SPENDING_DAILY,
    LINES,
    OUTPUTS_DAILY,
    SIGNATURES,
    SOURCE_MEASURES,
    TARGETS,
    Table,
)
from services.performance.deadlines import NOT_CLOSED, deadline_deltas

CASE_COLUMNS = CASES.column_names
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
CaseStage: TypeAlias = (
    ev.CaseReported | ev.CaseAccepted | ev.CaseFiled | ev.CaseDispatched | ev.CaseDisposed
    | ev.CaseClosed
)  # fmt: skip
# the stages that follow a case's report: they need the case's stored row
FOLLOW_UPS = (ev.CaseAccepted, ev.CaseFiled, ev.CaseDispatched, ev.CaseDisposed, ev.CaseClosed)
CaseKey: TypeAlias = tuple[str, str]  # (department, case_id)
Case: TypeAlias = dict[str, Any]  # a row of the cases table, by column name
Row: TypeAlias = tuple[Any, ...]  # a row of a projection table, in its declared column order


def cases_to_load(entries: Iterable[JournalEntry], known: Collection[CaseKey] = ()) -> set[CaseKey]:
    """The cases whose stored rows the entries need: those they follow up on, but neither
    report nor are ``known`` already."""
    reported, followed = set(), set()
    for entry in entries:
        event = entry.event
        if isinstance(event, ev.CaseReported):
            reported.add((event.department, event.data.case_id))
        elif isinstance(event, FOLLOW_UPS):
            followed.add((event.department, event.data.case_id))
    return {key for key in followed - reported if key not in known}


@dataclass
class BatchProjection:
    timezone: ZoneInfo
    cases: dict[CaseKey, Case]
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)
    line_daily: defaultdict[tuple[str, date], dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(LINE_MEASURES, Decimal(0)))
    )
    source_daily: defaultdict[tuple[str, date, str], dict[str, Decimal]] = field(  # by source
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(SOURCE_MEASURES, Decimal(0)))
    )
    spending_daily: defaultdict[tuple[str, date, str, str], Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    case_daily: defaultdict[tuple[str, int, str, str, date], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(CASE_DAILY.value_names, 0))
    )
    # filed cases by (department, year, dimension, value, deadline day, closing day, since day)
    case_deadlines: defaultdict[tuple[str, int, str, str, date, date, date], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    touched_cases: set[CaseKey] = field(default_factory=set)
    targets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (department, year, indicator, unit, line_id or '', day) -> quantity
    outputs_daily: defaultdict[tuple[str, int, str, str, str, date], Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    # (department, journal position) -> an assessment scheme, kept whole (ASSESSMENT_SCHEMES)
    schemes: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    # what evaluators wrote, by table and key (the newest of a key wins)
    written: dict[Table, dict[tuple[Any, ...], dict[str, Any]]] = field(
        default_factory=lambda: {DEVIATION_NOTES: {}, GOALS: {}, SIGNATURES: {}}
    )

    # the entry being applied: its journal position, when it occurred, on which day (TIMEZONE)
    position: int = field(init=False)
    at: datetime = field(init=False)
    day: date = field(init=False)

    def apply(self, entry: JournalEntry) -> None:
        event, context = upcast(entry.event), entry.context  # as journalled: any version
        self.position = entry.position
        self.at = event.occurred_at
        self.day = self.at.astimezone(self.timezone).date()
        getattr(self, f"on_{event.event_type}")(event, context)  # every type has one (a test)

    def rows(self) -> Iterator[tuple[Table, list[Row]]]:
        """What the batch writes: rows of each table, in the table's column order."""
        yield DEPARTMENTS, [DEPARTMENTS.row(d) for d in self.departments.values()]
        yield LINES, [LINES.row(line) for line in self.lines.values()]
        yield LINE_DAILY, [(*key, *(measures[m] for m in LINE_DAILY.value_names))
                           for key, measures in self.line_daily.items()]  # fmt: skip
        yield LINE_SOURCE_DAILY, [(*key, *(measures[m] for m in SOURCE_MEASURES))
                                  for key, measures in self.source_daily.items()]  # fmt: skip
        yield LINE_SPENDING_DAILY, [(*key, spent) for key, spent in self.spending_daily.items()]
        yield CASES, [CASES.row(self.cases[key]) for key in self.touched_cases]
        yield TARGETS, [TARGETS.row(target) for target in self.targets.values()]
        yield ASSESSMENT_SCHEMES, [ASSESSMENT_SCHEMES.row(s) for s in self.schemes.values()]
        yield OUTPUTS_DAILY, [(*key, n) for key, n in self.outputs_daily.items()]
        for table, written in self.written.items():
            yield table, [table.row(row) for row in written.values()]
        yield CASE_DEADLINES, [(*key, n) for key, n in self.case_deadlines.items()]
        yield CASE_DAILY, [(*key, *(counts[c] for c in CASE_DAILY.value_names))
                           for key, counts in self.case_daily.items()]  # fmt: skip

    # --- budget --------------------------------------------------------------------------------

    def _line(self, line_id: str, source: str | None = None, **measures: Decimal) -> None:
        bucket = self.line_daily[(line_id, self.day)]
        for name, amount in measures.items():
            bucket[name] += amount
        if source is not None:  # and to its funding source's day (measures: SOURCE_MEASURES)
            bucket = self.source_daily[(line_id, self.day, source)]
            for name, amount in measures.items():
                bucket[name] += amount

    def on_DepartmentRegistered(
        self, event: ev.DepartmentRegistered, context: JournalContext
    ) -> None:
        data = event.data
        self.departments[event.department] = {
            "code": event.department,
            "name": data.name,
            "parent": data.parent,
            "headcount_authorised": data.headcount_authorised,
            "headcount_actual": data.headcount_actual,
        }

    def on_BudgetAuthorised(self, event: ev.BudgetAuthorised, context: JournalContext) -> None:
        data = event.data
        self.lines.setdefault(
            data.line_id,
            {
                "line_id": data.line_id,
                "department": event.department,
                "fiscal_year": event.fiscal_year,
                "title": data.title,
                "category": data.category,
                "funding_source": data.funding_source,
                "sangong": data.sangong,
            },
        )
        source, amount = data.funding_source, data.amount
        self._line(data.line_id, source, initial_budget=amount, adjusted_budget=amount)

    def on_BudgetAdjusted(self, event: ev.BudgetAdjusted, context: JournalContext) -> None:
        data = event.data
        self._line(data.line_id, data.funding_source, adjusted_budget=data.amount)

    def on_FundsArrived(self, event: ev.FundsArrived, context: JournalContext) -> None:
        self._line(event.data.line_id, event.data.funding_source, arrived=event.data.amount)

    def on_FundsTransferred(self, event: ev.FundsTransferred, context: JournalContext) -> None:
        self._line(event.data.line_id, transferred=event.data.amount)

    def _spend(self, spent: ReversedDisbursement, sign: int) -> None:
        amount = spent.amount * sign  # a reversal: on the reversed one's source, negative
        self._line(spent.line_id, spent.funding_source, spent=amount)
        key = (spent.line_id, self.day, spent.economic_class, spent.spending_department)
        self.spending_daily[key] += amount

    def on_Disbursed(self, event: ev.Disbursed, context: JournalContext) -> None:
        self._spend(ReversedDisbursement.of(event), +1)

    def on_DisbursementReversed(
        self, event: ev.DisbursementReversed, context: JournalContext
    ) -> None:
        # the ledger attaches the reversed disbursement; the reversal counts on its own date
        if context.reversed is None:
            raise ValueError(f"{event.event_id}: the journal context names no reversed payment")
        self._spend(context.reversed, -1)

    def on_ProcurementPlanned(self, event: ev.ProcurementPlanned, context: JournalContext) -> None:
        self._line(event.data.line_id, procurement_planned=event.data.amount)

    def on_ContractAwarded(self, event: ev.ContractAwarded, context: JournalContext) -> None:
        if context.line_id is None:
            raise ValueError(f"{event.event_id}: the journal context names no budget line")
        self._line(context.line_id, contracted=event.data.amount)

    # --- targets and outputs ------------------------------------------------------------------

    def on_PerformanceTargetSet(
        self, event: ev.PerformanceTargetSet, context: JournalContext
    ) -> None:
        data = event.data  # the same target_id again replaces the target
        self.targets[(event.department, data.target_id)] = {
            "department": event.department,
            "target_id": data.target_id,
            "fiscal_year": event.fiscal_year,
            "line_id": data.line_id,
            "level1": data.level1,
            "level2": data.level2,
            "name": data.name,
            "metric": data.metric,
            "comparator": data.comparator,
            "value": data.value,
            "unit": data.unit,
            "weight": data.weight,
        }

    def on_OutputRecorded(self, event: ev.OutputRecorded, context: JournalContext) -> None:
        data = event.data
        key = (event.department, event.fiscal_year, data.indicator, data.unit,
               data.line_id or "", self.day)  # fmt: skip
        self.outputs_daily[key] += data.quantity

    def on_AssessmentSchemeSet(
        self, event: ev.AssessmentSchemeSet, context: JournalContext
    ) -> None:
        data = event.data  # kept by journal position
        self.schemes[(event.department, self.position)] = {
            "department": event.department,
            "position": self.position,
            "fiscal_year": event.fiscal_year,
            "effective_month": data.effective_month,
            "set_day": self.day,
            "indicators": [
                {"metric": i.metric, "name": i.name, "weight": str(i.weight)}
                for i in data.indicators
            ],
            "document": data.document,
        }

    # --- what evaluators write ----------------------------------------------------------------

    def _write(self, table: Table, event: ev.Envelope, **values: Any) -> None:
        row = {"department": event.department, "fiscal_year": event.fiscal_year, **values}
        self.written[table][tuple(row[k] for k in table.key_names)] = row  # the newest wins

    def on_DeviationExplained(self, event: ev.DeviationExplained, context: JournalContext) -> None:
        data = event.data
        self._write(DEVIATION_NOTES, event, target_id=data.target_id, text=data.text,
                    author=data.author, written_at=self.at)  # fmt: skip

    def on_GoalStated(self, event: ev.GoalStated, context: JournalContext) -> None:
        data = event.data
        self._write(GOALS, event, line_id=data.line_id or "", expected=data.expected,
                    actual=data.actual, author=data.author, written_at=self.at)  # fmt: skip

    def on_EvaluationSigned(self, event: ev.EvaluationSigned, context: JournalContext) -> None:
        data = event.data  # kept by journal position, each signature
        self._write(SIGNATURES, event, position=self.position, line_id=data.line_id or "",
                    as_of=data.as_of, signer=data.signer, signed_at=self.at,
                    figures=data.figures, digest=data.digest)  # fmt: skip

    # --- cases ---------------------------------------------------------------------------------

    def _stage(self, event: CaseStage) -> Case:
        key = (event.department, event.data.case_id)
        case = self.cases[key]  # the ledger accepts no stage before CaseReported
        column, count = CASE_STAGE_COLUMNS[event.event_type]
        first_time = case[column] is None  # a re-dispatch does not count the case again
        case[column] = self.at
        self.touched_cases.add(key)
        if first_time:
            self._count(event, case, count)
            if count == "reported" and case["advance_disposal"]:
                self._count(event, case, "advance_disposals")
        return case

    @staticmethod
    def _dimensions(case: Case) -> list[tuple[str, str]]:
        values = [(dimension, case[dimension]) for dimension in CASE_DIMENSIONS]
        if case["assignee"] is not None:
            values.append(("assignee", case["assignee"]))
        return values

    def _count(
        self,
        event: ev.Envelope,
        case: Case,
        count: str,
        n: int = 1,
        only: list[tuple[str, str]] | None = None,
    ) -> None:
        day = self.day
        for dimension, value in only or self._dimensions(case):
            key = (event.department, event.fiscal_year, dimension, value, day)
            self.case_daily[key][count] += n

    def _deadline(
        self,
        event: ev.Envelope,
        case: Case,
        closed: date,
        n: int,
        only: list[tuple[str, str]] | None = None,
    ) -> None:
        deadline = case["deadline_at"].astimezone(self.timezone).date()
        deltas = list(deadline_deltas(deadline, closed, self.day))
        for dimension, value in only or self._dimensions(case):
            key = (event.department, event.fiscal_year, dimension, value)
            self.case_deadlines[(*key, deadline, closed, self.day)] += n
            for day, count, sign in deltas:
                self.case_daily[(*key, day)][count] += sign * n

    def _hand_over(self, event: ev.Envelope, case: Case, previous: str | None) -> None:
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

    def on_CaseReported(self, event: ev.CaseReported, context: JournalContext) -> None:
        data = event.data
        self.cases[(event.department, data.case_id)] = {
            **dict.fromkeys(CASE_COLUMNS),
            "department": event.department,
            "case_id": data.case_id,
            "fiscal_year": event.fiscal_year,
            "channel": data.channel,
            "category": data.category,
            "kind": data.kind,
            "advance_disposal": data.advance_disposal,
        }
        self._stage(event)

    def on_CaseAccepted(self, event: ev.CaseAccepted, context: JournalContext) -> None:
        self._stage(event)

    def on_CaseFiled(self, event: ev.CaseFiled, context: JournalContext) -> None:
        case = self._stage(event)
        case["deadline_at"] = event.data.deadline_at
        self._deadline(event, case, NOT_CLOSED, +1)

    def on_CaseDispatched(self, event: ev.CaseDispatched, context: JournalContext) -> None:
        case = self._stage(event)  # before the assignee is set: counted once per case
        previous, case["assignee"] = case["assignee"], event.data.assignee
        if previous != case["assignee"]:
            self._hand_over(event, case, previous)

    def on_CaseDisposed(self, event: ev.CaseDisposed, context: JournalContext) -> None:
        self._stage(event)

    def on_CaseClosed(self, event: ev.CaseClosed, context: JournalContext) -> None:
        case = self._stage(event)
        if case["accepted_at"] is not None:
            self._count(event, case, "closed_accepted")
        if case["deadline_at"] is not None:  # filed: it was due, and is no longer open
            if case["closed_at"] <= case["deadline_at"]:
                self._count(event, case, "closed_on_time")
            self._deadline(event, case, NOT_CLOSED, -1)
            self._deadline(event, case, self.day, +1)
