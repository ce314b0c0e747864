"""The ledger's aggregates and the rules of CONTRACT.md section 3.

Pure: no I/O. Each aggregate changes state only by ``record``-ing an accepted event;
every rule is a ``check_*`` method that raises ``Rejected`` with a stable reason code
and a message naming the field and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from schemas import events as ev
from schemas.events import CASE_STAGES, Envelope


class Rejected(Exception):
    """A rule is broken. ``waits_for`` names the stream (or ``event:<id>``) whose later events
    could still make the event acceptable: such an event arrived too early rather than wrong."""

    def __init__(
        self, reason: str, message: str, field: str | None = None, waits_for: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field
        self.waits_for = waits_for


def stream_id_of(event: Envelope, reversed_line: str | None = None) -> str:
    """The stream (aggregate) an event belongs to; its version orders the stream's events."""
    data: Any = event.data
    if isinstance(event, ev.DisbursementReversed):
        if reversed_line is None:
            raise Rejected(
                "unknown_disbursement",
                f"data.reverses: no accepted Disbursed has event_id {data.reverses!r}",
                "data.reverses",
                waits_for=f"event:{data.reverses}",
            )
        return f"line:{reversed_line}"
    if isinstance(
        event,
        ev.DepartmentRegistered
        | ev.PerformanceTargetSet
        | ev.OutputRecorded
        | ev.AssessmentSchemeSet,
    ):
        return f"department:{event.department}"
    if isinstance(event, ev.ProcurementPlanned | ev.ContractAwarded):
        return f"procurement:{data.procurement_id}"
    if isinstance(event, ev.CASE_STAGE_EVENTS):
        return f"case:{event.department}:{data.case_id}"
    return f"line:{data.line_id}"


def referenced_line(event: Envelope) -> str | None:
    """A budget line another stream's event points at (checked, never changed)."""
    if isinstance(event, ev.PerformanceTargetSet | ev.OutputRecorded | ev.ProcurementPlanned):
        return event.data.line_id  # type: ignore[no-any-return]
    return None


def _money(state: dict[str, Any], key: str) -> Decimal:
    return Decimal(state.get(key, "0"))


@dataclass
class Aggregate:
    """Base: a stream of accepted events with a version for optimistic concurrency."""

    version: int = 0
    kind: ClassVar[str] = ""

    def record(self, event: Envelope, refs: References) -> dict[str, Any]:
        """Check the event against this aggregate's rules, apply it, return the journal context."""
        handler = getattr(self, "on_" + event.event_type)
        context: dict[str, Any] = handler(event, refs) or {}
        self.version += 1
        return context

    def state(self) -> dict[str, Any]:
        raise NotImplementedError


class References:
    """What an aggregate may look up in other streams while checking an event."""

    def __init__(
        self, aggregates: dict[str, Aggregate], disbursements: dict[str, dict[str, Any]]
    ) -> None:
        self.aggregates = aggregates  # live: includes streams created earlier in the batch
        self.disbursements = disbursements

    def line_of(self, event: Envelope, line_id: str) -> BudgetLine:
        line = self.aggregates.get(f"line:{line_id}") or BudgetLine(line_id=line_id)
        assert isinstance(line, BudgetLine)
        line.check_belongs(event)
        return line


@dataclass
class BudgetLine(Aggregate):
    kind: ClassVar[str] = "line"
    line_id: str = ""
    department: str = ""
    fiscal_year: int = 0
    category: str = ""
    initial: Decimal = Decimal(0)
    adjustments: Decimal = Decimal(0)
    arrived: Decimal = Decimal(0)
    transferred: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)
    reversed: set[str] = field(default_factory=set)

    @property
    def stream_id(self) -> str:
        return f"line:{self.line_id}"

    @property
    def adjusted(self) -> Decimal:
        return self.initial + self.adjustments

    @classmethod
    def from_state(cls, version: int, s: dict[str, Any]) -> BudgetLine:
        return cls(
            version=version,
            line_id=s["line_id"],
            department=s["department"],
            fiscal_year=s["fiscal_year"],
            category=s["category"],
            initial=_money(s, "initial"),
            adjustments=_money(s, "adjustments"),
            arrived=_money(s, "arrived"),
            transferred=_money(s, "transferred"),
            spent=_money(s, "spent"),
            reversed=set(s.get("reversed", ())),
        )

    def state(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "department": self.department,
            "fiscal_year": self.fiscal_year,
            "category": self.category,
            "initial": str(self.initial),
            "adjustments": str(self.adjustments),
            "arrived": str(self.arrived),
            "transferred": str(self.transferred),
            "spent": str(self.spent),
            "reversed": sorted(self.reversed),
        }

    # --- checks ------------------------------------------------------------------------------

    def check_belongs(self, event: Envelope) -> None:
        if not self.version:
            raise Rejected(
                "unknown_budget_line",
                f"data.line_id: budget line {self.line_id!r} has not been authorised",
                "data.line_id",
                waits_for=self.stream_id,
            )
        if event.department != self.department:
            raise Rejected(
                "line_department_mismatch",
                f"department: line {self.line_id!r} belongs to {self.department!r}, "
                f"not {event.department!r}",
                "department",
            )
        if event.fiscal_year != self.fiscal_year:
            raise Rejected(
                "fiscal_year_mismatch",
                f"fiscal_year: line {self.line_id!r} is of fiscal year {self.fiscal_year}, "
                f"not {event.fiscal_year}",
                "fiscal_year",
            )

    def check_authorisation(self, event: ev.BudgetAuthorised) -> None:
        if not self.version:
            return
        self.check_belongs(event)
        if event.data.category != self.category:
            raise Rejected(
                "line_category_mismatch",
                f"data.category: line {self.line_id!r} is {self.category!r}, "
                f"not {event.data.category!r}",
                "data.category",
            )

    def check_adjustment(self, amount: Decimal) -> None:
        after = self.adjusted + amount
        if after < 0:
            raise Rejected(
                "adjusted_below_zero",
                f"data.amount: adjusted budget would become {after}, below zero",
                "data.amount",
            )
        if after < self.arrived:
            raise Rejected(
                "adjusted_below_arrived",
                f"data.amount: adjusted budget would become {after}, below the {self.arrived} "
                "already arrived",
                "data.amount",
            )

    def check_arrival(self, amount: Decimal) -> None:
        if self.arrived + amount > self.adjusted:
            raise Rejected(
                "arrival_exceeds_budget",
                f"data.amount: arrived would become {self.arrived + amount}, above the adjusted "
                f"budget {self.adjusted}",
                "data.amount",
                waits_for=self.stream_id,
            )

    def check_transfer(self, event: ev.FundsTransferred) -> None:
        if event.data.to_department == self.department:
            raise Rejected(
                "transfer_to_self",
                "data.to_department: funds cannot be transferred to the line's own department",
                "data.to_department",
            )
        if self.transferred + event.data.amount > self.arrived:
            raise Rejected(
                "transfer_exceeds_arrived",
                f"data.amount: transferred would become {self.transferred + event.data.amount}, "
                f"above the {self.arrived} arrived",
                "data.amount",
                waits_for=self.stream_id,
            )

    def check_disbursement(self, amount: Decimal) -> None:
        if self.spent + amount > self.arrived:
            raise Rejected(
                "disbursement_exceeds_arrived",
                f"data.amount: spent would become {self.spent + amount}, above the "
                f"{self.arrived} arrived on line {self.line_id!r}",
                "data.amount",
                waits_for=self.stream_id,
            )

    def check_reversal(self, event: ev.DisbursementReversed) -> None:
        if event.data.reverses in self.reversed:
            raise Rejected(
                "disbursement_already_reversed",
                f"data.reverses: disbursement {event.data.reverses!r} was already reversed",
                "data.reverses",
            )

    # --- events ------------------------------------------------------------------------------

    def on_BudgetAuthorised(self, event: ev.BudgetAuthorised, refs: References) -> None:
        self.check_authorisation(event)
        if not self.version:
            self.department = event.department
            self.fiscal_year = event.fiscal_year
            self.category = event.data.category
        self.initial += event.data.amount

    def on_BudgetAdjusted(self, event: ev.BudgetAdjusted, refs: References) -> None:
        self.check_belongs(event)
        self.check_adjustment(event.data.amount)
        self.adjustments += event.data.amount

    def on_FundsArrived(self, event: ev.FundsArrived, refs: References) -> None:
        self.check_belongs(event)
        self.check_arrival(event.data.amount)
        self.arrived += event.data.amount

    def on_FundsTransferred(self, event: ev.FundsTransferred, refs: References) -> None:
        self.check_belongs(event)
        self.check_transfer(event)
        self.transferred += event.data.amount

    def on_Disbursed(self, event: ev.Disbursed, refs: References) -> None:
        self.check_belongs(event)
        self.check_disbursement(event.data.amount)
        self.spent += event.data.amount
        refs.disbursements[event.event_id] = {
            "line_id": self.line_id,
            "amount": str(event.data.amount),
            "economic_class": event.data.economic_class,
            "spending_department": event.data.spending_department or event.department,
        }

    def on_DisbursementReversed(
        self, event: ev.DisbursementReversed, refs: References
    ) -> dict[str, Any]:
        self.check_belongs(event)
        self.check_reversal(event)
        reversed_disbursement = refs.disbursements[event.data.reverses]
        self.spent -= Decimal(reversed_disbursement["amount"])
        self.reversed.add(event.data.reverses)
        return {"reversed": reversed_disbursement}


@dataclass
class Procurement(Aggregate):
    kind: ClassVar[str] = "procurement"
    procurement_id: str = ""
    department: str = ""
    line_id: str = ""
    planned: Decimal = Decimal(0)
    contracted: Decimal = Decimal(0)

    @classmethod
    def from_state(cls, version: int, s: dict[str, Any]) -> Procurement:
        return cls(
            version=version,
            procurement_id=s["procurement_id"],
            department=s["department"],
            line_id=s["line_id"],
            planned=_money(s, "planned"),
            contracted=_money(s, "contracted"),
        )

    def state(self) -> dict[str, Any]:
        return {
            "procurement_id": self.procurement_id,
            "department": self.department,
            "line_id": self.line_id,
            "planned": str(self.planned),
            "contracted": str(self.contracted),
        }

    def check_new(self) -> None:
        if self.version:
            raise Rejected(
                "procurement_already_planned",
                f"data.procurement_id: procurement {self.procurement_id!r} is already planned",
                "data.procurement_id",
            )

    def check_contract(self, event: ev.ContractAwarded) -> None:
        if not self.version:
            raise Rejected(
                "unknown_procurement",
                f"data.procurement_id: procurement {self.procurement_id!r} was never planned",
                "data.procurement_id",
                waits_for=f"procurement:{self.procurement_id}",
            )
        if event.department != self.department:
            raise Rejected(
                "procurement_department_mismatch",
                f"department: procurement {self.procurement_id!r} belongs to {self.department!r}",
                "department",
            )
        if self.contracted + event.data.amount > self.planned:
            raise Rejected(
                "contract_exceeds_planned",
                f"data.amount: contracts would total {self.contracted + event.data.amount}, above "
                f"the {self.planned} planned",
                "data.amount",
            )

    def on_ProcurementPlanned(self, event: ev.ProcurementPlanned, refs: References) -> None:
        self.check_new()
        refs.line_of(event, event.data.line_id)
        self.department = event.department
        self.line_id = event.data.line_id
        self.planned = event.data.amount

    def on_ContractAwarded(self, event: ev.ContractAwarded, refs: References) -> dict[str, Any]:
        self.check_contract(event)
        self.contracted += event.data.amount
        return {"line_id": self.line_id}


@dataclass
class Case(Aggregate):
    kind: ClassVar[str] = "case"
    stage: int = -1  # index into CASE_STAGES of the last stage reached
    fiscal_year: int | None = None  # of its CaseReported (None: stored by an older version)

    @classmethod
    def from_state(cls, version: int, s: dict[str, Any]) -> Case:
        return cls(version=version, stage=s["stage"], fiscal_year=s.get("fiscal_year"))

    def state(self) -> dict[str, Any]:
        return {"stage": self.stage, "fiscal_year": self.fiscal_year}

    def check_stage(self, event: Envelope) -> None:
        new = CASE_STAGES.index(event.event_type)
        if self.stage < 0 and new != 0:
            raise Rejected(
                "unknown_case",
                f"data.case_id: case {event.data.case_id!r} was never reported; "
                "its first stage must be CaseReported",
                "data.case_id",
                waits_for=stream_id_of(event),
            )
        redispatch = new == self.stage == CASE_STAGES.index("CaseDispatched")
        if new <= self.stage and not redispatch:
            raise Rejected(
                "case_stage_out_of_order",
                f"event_type: case is already at {CASE_STAGES[self.stage]}; "
                f"{event.event_type} cannot follow it (stages only move forward, each once)",
                "event_type",
            )

    def check_year(self, event: Envelope) -> None:
        if self.fiscal_year is not None and event.fiscal_year != self.fiscal_year:
            raise Rejected(
                "case_fiscal_year_mismatch",
                f"fiscal_year: case {event.data.case_id!r} belongs to fiscal year "
                f"{self.fiscal_year} (its CaseReported); every stage of it must carry that year",
                "fiscal_year",
            )

    def record(self, event: Envelope, refs: References) -> dict[str, Any]:
        self.check_stage(event)
        if self.stage >= 0:
            self.check_year(event)
        else:
            self.fiscal_year = event.fiscal_year
        self.stage = CASE_STAGES.index(event.event_type)
        self.version += 1
        return {}


@dataclass
class Department(Aggregate):
    """Department-level facts: registration, targets, outputs, assessment schemes."""

    kind: ClassVar[str] = "department"

    @classmethod
    def from_state(cls, version: int, s: dict[str, Any]) -> Department:
        return cls(version=version)

    def state(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def check_scheme(event: ev.AssessmentSchemeSet) -> None:
        """A scheme scores its effective month on: it may not rescore months that had ended
        when it was set (their bulletins were issued), in the event's own time zone."""
        set_in = (event.occurred_at.year, event.occurred_at.month)
        if (event.fiscal_year, event.data.effective_month) < set_in:
            raise Rejected(
                "scheme_effective_in_past",
                f"data.effective_month: {event.fiscal_year}-{event.data.effective_month:02d} "
                f"is before the month the scheme was set ({set_in[0]}-{set_in[1]:02d}); a "
                "scheme may not rescore months already assessed",
                "data.effective_month",
            )

    def record(self, event: Envelope, refs: References) -> dict[str, Any]:
        line_id = referenced_line(event)
        if line_id is not None:
            refs.line_of(event, line_id)
        if isinstance(event, ev.AssessmentSchemeSet):
            self.check_scheme(event)
        self.version += 1
        return {}


AGGREGATES: dict[str, type[Aggregate]] = {
    "line": BudgetLine,
    "procurement": Procurement,
    "case": Case,
    "department": Department,
}


def new_aggregate(stream_id: str) -> Aggregate:
    kind, _, rest = stream_id.partition(":")
    if kind == "line":
        return BudgetLine(line_id=rest)
    if kind == "procurement":
        return Procurement(procurement_id=rest)
    return AGGREGATES[kind]()


def load_aggregate(stream_id: str, version: int, state: dict[str, Any]) -> Aggregate:
    kind = stream_id.partition(":")[0]
    return AGGREGATES[kind].from_state(version, state)  # type: ignore[attr-defined,no-any-return]
