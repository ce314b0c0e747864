"""The write side of the peer benchmark (bench/peer.py): an ``eventsourcing`` application
with one aggregate per key of the contract, as the library's documentation models them.

A budget line (``line_id``), a case (department and ``case_id``), a department (its code), a
procurement (``procurement_id``) and a record (a target's, by ``target_id``, or else a
department's year: targets, outputs, schemes, deviations, goals, evaluations). Each id is
the ``uuid5`` of the key; each contract event becomes exactly one aggregate event, which
keeps the contract's ``event_id`` and ``occurred_at`` (amounts as ``Decimal``, times as
``datetime``: the library's JSON transcodings). The event classes are declared, not
derived from the methods, so that the projection can dispatch on them with types.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event


def key_id(*key: str) -> UUID:
    return uuid5(NAMESPACE_URL, "/public-ledger/" + "/".join(key))


def money(amount: Any) -> Decimal:
    """A contract amount: a string of yuan, or (Disbursed version 2) {value, currency}."""
    return Decimal(amount["value"] if isinstance(amount, dict) else amount)


class Fact(Aggregate.Event):
    """What every contract event brings to its aggregate event."""

    event_id: str
    occurred_at: datetime


class BudgetLine(Aggregate):
    """A budget line: its budget and the money through it."""

    class Authorised(Fact, Aggregate.Created):
        department: str
        line_id: str
        category: str
        amount: Decimal

    class Amount(Fact):  # a movement of money on the line, named by its kind
        kind: str
        amount: Decimal

    class Disbursed(Fact):  # not a subclass of Amount: the library redefines each event
        kind: str  # class of an aggregate, and a redefined class is no subclass of another
        amount: Decimal
        economic_class: str

    @staticmethod
    def create_id(line_id: str) -> UUID:
        return key_id("budget-line", line_id)

    @event(Authorised)
    def __init__(
        self, department: str, line_id: str, category: str, amount: Decimal, event_id: str,
        occurred_at: datetime,
    ) -> None:  # fmt: skip
        self.line_id, self.authorised = line_id, amount
        self.moved: dict[str, Decimal] = {}
        self.payments: dict[str, Decimal] = {}

    @event(Amount)
    def move(self, kind: str, amount: Decimal, event_id: str, occurred_at: datetime) -> None:
        """adjusted (signed), arrived, transferred, reversed."""
        self.moved[kind] = self.moved.get(kind, Decimal(0)) + amount

    @event(Disbursed)
    def disburse(
        self, kind: str, amount: Decimal, economic_class: str, event_id: str, occurred_at: datetime
    ) -> None:
        self.moved[kind] = self.moved.get(kind, Decimal(0)) + amount
        self.payments[event_id] = amount  # what a reversal names

    def reverse(self, reverses: str, event_id: str, occurred_at: datetime) -> None:
        """Compensate one payment, once (the rule the contract states)."""
        amount = self.payments.pop(reverses)
        self.move("reversed", amount, event_id=event_id, occurred_at=occurred_at)


class Case(Aggregate):
    """A case of the city-management platform, through its stages."""

    class Reported(Fact, Aggregate.Created):
        department: str
        case_id: str
        channel: str
        category: str
        kind: str

    class Staged(Fact):  # accepted, filed, dispatched, disposed, closed
        stage: str
        detail: str | None  # the deadline (filed) or the assignee (dispatched)

    @staticmethod
    def create_id(department: str, case_id: str) -> UUID:
        return key_id("case", department, case_id)

    @event(Reported)
    def __init__(
        self, department: str, case_id: str, channel: str, category: str, kind: str,
        event_id: str, occurred_at: datetime,
    ) -> None:  # fmt: skip
        self.channel, self.stage = channel, "reported"

    @event(Staged)
    def advance(self, stage: str, detail: str | None, event_id: str, occurred_at: datetime) -> None:
        self.stage = stage


class Department(Aggregate):
    class Registered(Fact, Aggregate.Created):
        code: str
        name: str

    class Renamed(Fact):
        name: str

    @staticmethod
    def create_id(code: str) -> UUID:
        return key_id("department", code)

    @event(Registered)
    def __init__(self, code: str, name: str, event_id: str, occurred_at: datetime) -> None:
        self.name = name

    @event(Renamed)
    def rename(self, name: str, event_id: str, occurred_at: datetime) -> None:
        self.name = name


class Procurement(Aggregate):
    class Planned(Fact, Aggregate.Created):
        procurement_id: str
        line_id: str
        amount: Decimal

    class Awarded(Fact):
        contract_id: str
        amount: Decimal

    @staticmethod
    def create_id(procurement_id: str) -> UUID:
        return key_id("procurement", procurement_id)

    @event(Planned)
    def __init__(
        self, procurement_id: str, line_id: str, amount: Decimal, event_id: str,
        occurred_at: datetime,
    ) -> None:  # fmt: skip
        self.contracts: dict[str, Decimal] = {}

    @event(Awarded)
    def award(
        self, contract_id: str, amount: Decimal, event_id: str, occurred_at: datetime
    ) -> None:
        self.contracts[contract_id] = amount


class Record(Aggregate):
    """What evaluators and planners write about a target or a department's year, kept as
    the contract's data (targets, outputs, schemes, deviations, goals, evaluations)."""

    class Opened(Fact, Aggregate.Created):
        key: str
        event_type: str
        data: dict[str, Any]

    class Noted(Fact):
        event_type: str
        data: dict[str, Any]

    @staticmethod
    def create_id(key: str) -> UUID:
        return key_id("record", key)

    @event(Opened)
    def __init__(
        self, key: str, event_type: str, data: dict[str, Any], event_id: str, occurred_at: datetime
    ) -> None:
        self.notes = 1

    @event(Noted)
    def note(
        self, event_type: str, data: dict[str, Any], event_id: str, occurred_at: datetime
    ) -> None:
        self.notes += 1


A = TypeVar("A", bound=Aggregate)
LINE_KINDS = {"BudgetAdjusted": "adjusted", "FundsArrived": "arrived",
              "FundsTransferred": "transferred"}  # fmt: skip
CASE_STAGES = {"CaseAccepted": "accepted", "CaseFiled": "filed", "CaseDispatched": "dispatched",
               "CaseDisposed": "disposed", "CaseClosed": "closed"}  # fmt: skip


class PeerLedger(Application[UUID]):
    """The write side. ``record`` keeps the aggregates a batch touches in a dict, gets one
    from the repository (``repository.get``: its stored events) the first time the batch
    needs it, and saves them all at the end with one ``save``: the unit of work a user of
    the library would write. A reversal finds its line through the payments this
    application recorded (the city-year has none)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.line_of_payment: dict[str, UUID] = {}

    def record(self, events: Iterable[dict[str, Any]]) -> None:
        touched: dict[UUID, Aggregate] = {}
        for e in events:
            fact = {
                "event_id": e["event_id"],
                "occurred_at": datetime.fromisoformat(e["occurred_at"]),
            }
            kind, data, department = e["event_type"], e["data"], e["department"]
            if kind.startswith("Case"):
                self._case(touched, kind, department, data, fact)
            elif not self._money(touched, kind, department, data, fact):
                self._other(touched, e, fact)
        self.save(*touched.values())

    def _find(self, touched: dict[UUID, Aggregate], cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate from the batch, else from its stored events; None if it has none."""
        if aggregate_id not in touched:
            try:
                touched[aggregate_id] = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        found = touched[aggregate_id]
        assert isinstance(found, cls), found
        return found

    def _get(self, touched: dict[UUID, Aggregate], cls: type[A], aggregate_id: UUID) -> A:
        found = self._find(touched, cls, aggregate_id)
        if found is None:
            raise AggregateNotFoundError(aggregate_id)
        return found

    @staticmethod
    def _new(touched: dict[UUID, Aggregate], aggregate: Aggregate) -> None:
        touched[aggregate.id] = aggregate

    def _case(self, touched: dict[UUID, Aggregate], kind: str, department: str,
              data: dict[str, Any], fact: dict[str, Any]) -> None:  # fmt: skip
        if kind == "CaseReported":
            self._new(touched, Case(department=department, case_id=data["case_id"],
                                    channel=data["channel"], category=data["category"],
                                    kind=data["kind"], **fact))  # fmt: skip
            return
        case = self._get(touched, Case, Case.create_id(department, data["case_id"]))
        detail = data.get("deadline_at") or data.get("assignee")
        case.advance(stage=CASE_STAGES[kind], detail=detail, **fact)

    def _money(self, touched: dict[UUID, Aggregate], kind: str, department: str,
               data: dict[str, Any], fact: dict[str, Any]) -> bool:  # fmt: skip
        """The budget line's events; False for any other."""
        if kind == "BudgetAuthorised":
            self._new(touched, BudgetLine(department=department, line_id=data["line_id"],
                                          category=data["category"], amount=money(data["amount"]),
                                          **fact))  # fmt: skip
        elif kind in LINE_KINDS:
            line = self._get(touched, BudgetLine, BudgetLine.create_id(data["line_id"]))
            line.move(LINE_KINDS[kind], money(data["amount"]), **fact)
        elif kind == "Disbursed":
            line = self._get(touched, BudgetLine, BudgetLine.create_id(data["line_id"]))
            code = data["economic_class"] + (data.get("economic_item") or "")
            line.disburse("disbursed", money(data["amount"]), code, **fact)
            self.line_of_payment[fact["event_id"]] = line.id
        elif kind == "DisbursementReversed":
            line = self._get(touched, BudgetLine, self.line_of_payment[data["reverses"]])
            line.reverse(data["reverses"], **fact)
        elif kind == "ProcurementPlanned":
            self._new(touched, Procurement(procurement_id=data["procurement_id"],
                                           line_id=data["line_id"], amount=money(data["amount"]),
                                           **fact))  # fmt: skip
        elif kind == "ContractAwarded":
            procurement = Procurement.create_id(data["procurement_id"])
            self._get(touched, Procurement, procurement).award(
                data["contract_id"], money(data["amount"]), **fact
            )
        else:
            return False
        return True

    def _other(
        self, touched: dict[UUID, Aggregate], e: dict[str, Any], fact: dict[str, Any]
    ) -> None:
        kind, data, department = e["event_type"], e["data"], e["department"]
        if kind == "DepartmentRegistered":
            unit = self._find(touched, Department, Department.create_id(department))
            if unit:
                unit.rename(data["name"], **fact)
            else:
                self._new(touched, Department(code=department, name=data["name"], **fact))
            return
        key = data.get("target_id") or f"{department}/{e['fiscal_year']}"
        record = self._find(touched, Record, Record.create_id(key))
        if record:
            record.note(kind, data, **fact)
        else:
            self._new(touched, Record(key=key, event_type=kind, data=data, **fact))
