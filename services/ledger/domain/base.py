"""What every aggregate shares: the ``Rejected`` error, the stream an event belongs to, the
``Aggregate`` base and the ``References`` it may look up in other streams."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from schemas import events as ev
from schemas.events import Envelope
from schemas.messages import JournalContext, ReversedDisbursement


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


# nothing to add to an event's journal entry (frozen: one for all)
NO_CONTEXT = JournalContext()
# the event types whose stream is their department's, and a procurement's (by name: a set
# lookup per event instead of isinstance checks against unions, on the hot path of a batch)
_DEPARTMENT_STREAM = frozenset(
    t.__name__
    for t in (ev.DepartmentRegistered, ev.PerformanceTargetSet, ev.OutputRecorded,
              ev.AssessmentSchemeSet, ev.DeviationExplained, ev.GoalStated,
              ev.EvaluationSigned)
)  # fmt: skip
_PROCUREMENT_STREAM = frozenset({ev.ProcurementPlanned.__name__, ev.ContractAwarded.__name__})
_CASE_STREAM = frozenset(ev.CASE_STAGES)


def stream_id_of(event: Envelope, reversed_line: str | None = None) -> str:
    """The stream (aggregate) an event belongs to; its version orders the stream's events."""
    data: Any = event.data
    kind = event.event_type
    if kind in _CASE_STREAM:
        return f"case:{event.department}:{data.case_id}"
    if isinstance(event, ev.DisbursementReversed):
        if reversed_line is None:
            raise Rejected(
                "unknown_disbursement",
                f"data.reverses: no accepted Disbursed has event_id {data.reverses!r}",
                "data.reverses",
                waits_for=f"event:{data.reverses}",
            )
        return f"line:{reversed_line}"
    if kind in _DEPARTMENT_STREAM:
        return f"department:{event.department}"
    if kind in _PROCUREMENT_STREAM:
        return f"procurement:{data.procurement_id}"
    return f"line:{data.line_id}"


def referenced_line(event: Envelope) -> str | None:
    """A budget line another stream's event points at (checked, never changed)."""
    if isinstance(
        event,
        ev.PerformanceTargetSet
        | ev.OutputRecorded
        | ev.ProcurementPlanned
        | ev.GoalStated
        | ev.EvaluationSigned,
    ):
        return event.data.line_id  # type: ignore[no-any-return]
    return None


def money(state: dict[str, Any], key: str) -> Decimal:
    """An amount of a stored state (a string; absent: 0)."""
    return Decimal(state.get(key, "0"))


@dataclass
class Aggregate:
    """Base: a stream of accepted events with a version for optimistic concurrency."""

    version: int = 0
    kind: ClassVar[str] = ""

    def record(self, event: Envelope, refs: References) -> JournalContext:
        """Check the event against this aggregate's rules, apply it, return the journal context."""
        handler = getattr(self, "on_" + event.event_type)
        context: JournalContext = handler(event, refs) or NO_CONTEXT
        self.version += 1
        return context

    def state(self) -> dict[str, Any]:
        raise NotImplementedError


class References:
    """What an aggregate may look up in other streams while checking an event."""

    def __init__(
        self, aggregates: dict[str, Aggregate], disbursements: dict[str, ReversedDisbursement]
    ) -> None:
        self.aggregates = aggregates  # live: includes streams created earlier in the batch
        self.disbursements = disbursements
