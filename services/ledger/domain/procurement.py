"""A procurement: planned against a budget line, then contracted up to what was planned."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from schemas import events as ev
from schemas.messages import JournalContext
from services.ledger.domain.base import Aggregate, References, Rejected, money
from services.ledger.domain.budget import line_of


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
            planned=money(s, "planned"),
            contracted=money(s, "contracted"),
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
        line_of(refs, event, event.data.line_id)
        self.department = event.department
        self.line_id = event.data.line_id
        self.planned = event.data.amount

    def on_ContractAwarded(self, event: ev.ContractAwarded, refs: References) -> JournalContext:
        self.check_contract(event)
        self.contracted += event.data.amount
        return JournalContext(line_id=self.line_id)
