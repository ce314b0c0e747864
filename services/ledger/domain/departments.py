"""Department-level facts: registration, performance targets, outputs, assessment schemes, and
what evaluators write: deviation notes, goals, sign-offs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from schemas import events as ev
from schemas.events import Envelope
from schemas.messages import JournalContext
from services.ledger.domain.base import (
    NO_CONTEXT,
    Aggregate,
    References,
    Rejected,
    referenced_line,
)
from services.ledger.domain.budget import line_of


@dataclass
class Department(Aggregate):
    """Department-level facts: registration, targets, outputs, assessment schemes, notes."""

    kind: ClassVar[str] = "department"
    # its targets' ids; None for a department whose state was stored before they were kept
    # (its events are not at hand here): a note on any target is then accepted
    targets: set[str] | None = field(default_factory=set)

    @classmethod
    def from_state(cls, version: int, s: dict[str, Any]) -> Department:
        targets = s.get("targets")
        return cls(version=version, targets=None if targets is None else set(targets))

    def state(self) -> dict[str, Any]:
        return {} if self.targets is None else {"targets": sorted(self.targets)}

    def check_target(self, event: ev.DeviationExplained) -> None:
        target = event.data.target_id
        if self.targets is not None and target not in self.targets:
            raise Rejected(
                "unknown_target",
                f"data.target_id: department {event.department!r} has no target {target!r} "
                "(PerformanceTargetSet)",
                "data.target_id",
                waits_for=f"department:{event.department}",
            )

    @staticmethod
    def check_signed_day(event: ev.EvaluationSigned) -> None:
        if event.data.as_of.year != event.fiscal_year:
            raise Rejected(
                "as_of_outside_year",
                f"data.as_of: {event.data.as_of.isoformat()} is outside fiscal year "
                f"{event.fiscal_year}",
                "data.as_of",
            )

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
        elif isinstance(event, ev.DeviationExplained):
            self.check_target(event)
        elif isinstance(event, ev.EvaluationSigned):
            self.check_signed_day(event)
        elif isinstance(event, ev.PerformanceTargetSet) and self.targets is not None:
            self.targets.add(event.data.target_id)
        self.version += 1
        return NO_CONTEXT
