"""The budget line: authorised, adjusted, arrived, transferred and spent funds (docs/contract.md
section 3), in total and per funding source, and the check that an event of another stream
names a line it may use."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from schemas import events as ev
from schemas.events import Envelope
from schemas.messages import JournalContext, ReversedDisbursement
from services.ledger.domain.base import Aggregate, References, Rejected, money


@dataclass
class SourceFunds:
    """What a line holds of one funding source: its adjusted budget, arrived and spent."""

    budget: Decimal = Decimal(0)
    arrived: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> SourceFunds:
        return cls(money(s, "budget"), money(s, "arrived"), money(s, "spent"))

    def state(self) -> dict[str, str]:
        return {"budget": str(self.budget), "arrived": str(self.arrived), "spent": str(self.spent)}


def line_of(refs: References, event: Envelope, line_id: str) -> BudgetLine:
    """The budget line an event of another stream refers to, checked to be the event's own."""
    line = refs.aggregates.get(f"line:{line_id}") or BudgetLine(line_id=line_id)
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
    # by funding source; None for a line whose state was stored before the sources were kept
    # (its events are not at hand here): such a line keeps the rules on its totals only
    sources: dict[str, SourceFunds] | None = field(default_factory=dict)

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
            initial=money(s, "initial"),
            adjustments=money(s, "adjustments"),
            arrived=money(s, "arrived"),
            transferred=money(s, "transferred"),
            spent=money(s, "spent"),
            reversed=set(s.get("reversed", ())),
            sources=(
                {k: SourceFunds.from_state(v) for k, v in s["sources"].items()}
                if "sources" in s
                else None
            ),
        )

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
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
        if self.sources is not None:
            state["sources"] = {k: funds.state() for k, funds in sorted(self.sources.items())}
        return state

    def _funds(self, source: str) -> SourceFunds | None:
        """What the line holds of a source (nothing yet: zeros; None: not kept)."""
        if self.sources is None:
            return None
        return self.sources.get(source) or SourceFunds()

    def _book(self, source: str, **amounts: Decimal) -> None:
        if self.sources is not None:
            funds = self.sources.setdefault(source, SourceFunds())
            for name, amount in amounts.items():
                setattr(funds, name, getattr(funds, name) + amount)

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

    def check_source_adjustment(self, source: str, amount: Decimal) -> None:
        """A 调减 of a source keeps its adjusted budget at or above zero and what arrived of it
        (a raise never takes it below)."""
        funds = self._funds(source)
        if funds is None or amount > 0:
            return
        after = funds.budget + amount
        where = f"data.funding_source {source!r} of line {self.line_id!r}"
        if after < 0:
            raise Rejected(
                "adjusted_below_zero_for_source",
                f"data.amount: the adjusted budget of {where} would become {after}, below zero",
                "data.amount",
            )
        if after < funds.arrived:
            raise Rejected(
                "adjusted_below_arrived_for_source",
                f"data.amount: the adjusted budget of {where} would become {after}, below the "
                f"{funds.arrived} of that source already arrived",
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

    def check_source_disbursement(self, source: str, amount: Decimal) -> None:
        funds = self._funds(source)
        if funds is not None and funds.spent + amount > funds.arrived:
            raise Rejected(
                "spending_exceeds_arrived_for_source",
                f"data.amount: spent of data.funding_source {source!r} on line {self.line_id!r} "
                f"would become {funds.spent + amount}, above the {funds.arrived} of that source "
                "arrived",
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
        self._book(event.data.funding_source, budget=event.data.amount)

    def on_BudgetAdjusted(self, event: ev.BudgetAdjusted, refs: References) -> None:
        self.check_belongs(event)
        self.check_adjustment(event.data.amount)
        self.check_source_adjustment(event.data.funding_source, event.data.amount)
        self.adjustments += event.data.amount
        self._book(event.data.funding_source, budget=event.data.amount)

    def on_FundsArrived(self, event: ev.FundsArrived, refs: References) -> None:
        self.check_belongs(event)
        self.check_arrival(event.data.amount)
        self.arrived += event.data.amount
        self._book(event.data.funding_source, arrived=event.data.amount)

    def on_FundsTransferred(self, event: ev.FundsTransferred, refs: References) -> None:
        self.check_belongs(event)
        self.check_transfer(event)
        self.transferred += event.data.amount

    def on_Disbursed(self, event: ev.Disbursed, refs: References) -> None:
        self.check_belongs(event)
        amount = event.data.amount.value
        self.check_disbursement(amount)
        self.check_source_disbursement(event.data.funding_source, amount)
        self.spent += amount
        self._book(event.data.funding_source, spent=amount)
        refs.disbursements[event.event_id] = ReversedDisbursement.of(event)

    def on_DisbursementReversed(
        self, event: ev.DisbursementReversed, refs: References
    ) -> JournalContext:
        self.check_belongs(event)
        self.check_reversal(event)
        reversed_disbursement = refs.disbursements[event.data.reverses]
        self.spent -= reversed_disbursement.amount  # given back to the source it was spent from
        self._book(reversed_disbursement.funding_source, spent=-reversed_disbursement.amount)
        self.reversed.add(event.data.reverses)
        return JournalContext(reversed=reversed_disbursement)
