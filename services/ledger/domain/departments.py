"""Department-level facts: registration, performance targets, outputs, assessment schemes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from schemas import events as ev
from schemas.events import Envelope
from schemas.messages import JournalContext
from services.ledger.domain.base import Aggregate, References, Rejected, referenced_line
from services.ledger.domain.budget import line_of


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

    def record(self, event: Envelope, refs: References) -> JournalContext:
        line_id = referenced_line(event)
        if line_id is not None:
            line_of(refs, event, line_id)
        if isinstance(event, ev.AssessmentSchemeSet):
            self.check_scheme(event)
        self.version += 1
        return JournalContext()
