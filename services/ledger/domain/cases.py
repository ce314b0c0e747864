"""A case of the city's service hotline: its stages only move forward (docs/contract.md
section 3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.events import CASE_STAGES, Envelope
from schemas.messages import JournalContext
from services.ledger.domain.base import NO_CONTEXT, Aggregate, References, Rejected, stream_id_of


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

    def record(self, event: Envelope, refs: References) -> JournalContext:
        self.check_stage(event)
        if self.stage >= 0:
            self.check_year(event)
        else:
            self.fiscal_year = event.fiscal_year
        self.stage = CASE_STAGES.index(event.event_type)
        self.version += 1
        return NO_CONTEXT
