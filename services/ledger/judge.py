"""The judge: applies the domain rules to a batch's records in arrival order, holding those
that came too early and releasing them when what they wait for is accepted. Pure: the caller
loads the state (streams, known event ids, disbursements) before asking."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from schemas.events import DisbursementReversed, Envelope
from schemas.messages import ReversedDisbursement
from services.ledger.domain import (
    Aggregate,
    References,
    Rejected,
    new_aggregate,
    referenced_line,
    stream_id_of,
)
from services.ledger.records import Accepted, Decision, Held, Parsed, Refused


class Judge:
    """Applies the domain rules to records in arrival order. Pure: the caller loads the state
    (streams, known event ids, disbursements) before asking."""

    def __init__(
        self,
        known_hashes: dict[str, bytes],
        aggregates: dict[str, Aggregate],
        disbursements: dict[str, ReversedDisbursement],
        now: datetime,
        hold: timedelta,
    ) -> None:
        self.decision = Decision(aggregates=aggregates)
        self.decision.expected_versions = {sid: agg.version for sid, agg in aggregates.items()}
        self.refs = References(aggregates, disbursements)
        self.seen = dict(known_hashes)
        self.now, self.hold = now, hold
        self.waiting: dict[str, list[tuple[Parsed, Held]]] = {}
        self.changed: set[str] = set()  # streams and event:<id> keys accepted events changed

    def load(self, item: Parsed | Refused, held: Held) -> None:
        """A stored pending record: waits again, or is judged now if its hold expired."""
        if isinstance(item, Parsed) and held.held_since + self.hold > self.now:
            self.waiting.setdefault(held.waits_for, []).append((item, held))
        else:
            self.judge(item, held)

    def judge(self, item: Parsed | Refused, held: Held | None = None) -> None:
        if held is not None and held.pending_id is not None:
            self.decision.released.append(held.pending_id)  # re-stored below if it waits again
        if isinstance(item, Refused):
            self.decision.refused.append(item)
            return
        event = item.event
        previous = self.seen.get(event.event_id)
        if previous is not None:
            if previous == item.content_hash:
                self.decision.duplicate_types.append(event.event_type)
            else:
                self._refuse(
                    item,
                    "duplicate_event_id_conflict",
                    "event_id",
                    f"event_id: {event.event_id!r} was already accepted with different content",
                )
            return
        aggregates = self.decision.aggregates
        try:
            stream_id = stream_id_of(event, _reversed_line(event, self.refs.disbursements))
            aggregate = aggregates.setdefault(stream_id, new_aggregate(stream_id))
            self.decision.expected_versions.setdefault(stream_id, 0)
            context = aggregate.record(event, self.refs)
        except Rejected as rejected:
            self._wait_or_refuse(item, rejected, held)
            return
        self.seen[event.event_id] = item.content_hash
        self.decision.accepted.append(
            Accepted(
                item.record,
                event,
                item.payload,
                item.content_hash,
                stream_id,
                aggregate.version,
                context,
            )
        )
        for key in (stream_id, f"event:{event.event_id}"):
            self.changed.add(key)
            for waiting, waiting_held in self.waiting.pop(key, []):
                self.judge(waiting, waiting_held)

    def finish(self) -> Decision:
        self.decision.held = [held for queue in self.waiting.values() for _, held in queue]
        self.decision.held.sort(key=lambda h: h.held_since)
        self.waiting = {}
        return self.decision

    def _wait_or_refuse(self, item: Parsed, rejected: Rejected, held: Held | None) -> None:
        since = held.held_since if held else self.now
        if rejected.waits_for is None or since + self.hold <= self.now:
            message = rejected.message
            if held is not None:
                message += f" (held {int((self.now - since).total_seconds())} s for a later event)"
            self._refuse(item, rejected.reason, rejected.field, message)
            return
        again = Held(
            item.record,
            rejected.reason,
            rejected.field,
            rejected.message,
            rejected.waits_for,
            since,
            item.event.event_id,
            item.event.department,
            event_type=item.event.event_type,
        )
        self.waiting.setdefault(rejected.waits_for, []).append((item, again))

    def _refuse(self, item: Parsed, reason: str, field: str | None, message: str) -> None:
        event = item.event
        identity = (event.event_id, event.department, event.event_type)
        self.decision.refused.append(Refused(item.record, reason, field, message, *identity))


def decide(
    items: Sequence[Parsed | Refused],
    known_hashes: dict[str, bytes],
    aggregates: dict[str, Aggregate],
    disbursements: dict[str, ReversedDisbursement],
    hold: timedelta = timedelta(0),
    now: datetime | None = None,
) -> Decision:
    """Judge one batch in memory, in order (no stored pending records)."""
    judge = Judge(known_hashes, aggregates, disbursements, now or datetime.now(UTC), hold)
    for item in items:
        judge.judge(item)
    return judge.finish()


def _reversed_line(event: Envelope, disbursements: dict[str, ReversedDisbursement]) -> str | None:
    if not isinstance(event, DisbursementReversed):
        return None
    target = disbursements.get(event.data.reverses)
    return target.line_id if target else None


def streams_needed(items: Sequence[Parsed], disbursed_lines: dict[str, str]) -> set[str]:
    """Every stream a batch may read: its own streams and the budget lines it refers to."""
    needed: set[str] = set()
    for item in items:
        event = item.event
        if isinstance(event, DisbursementReversed):
            line = disbursed_lines.get(event.data.reverses)
            if line:
                needed.add(f"line:{line}")
            continue
        needed.add(stream_id_of(event))
        line_id = referenced_line(event)
        if line_id:
            needed.add(f"line:{line_id}")
    return needed
