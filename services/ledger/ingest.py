"""Service layer: turn a batch of inbound Kafka records into accepted events and rejections.

One batch is one PostgreSQL transaction: parse every record, load the state of every
stream it touches in a handful of queries, decide in memory (domain rules), then write
events, stream states and rejections together. The relay publishes them afterwards
(transactional outbox), so nothing accepted is lost and nothing is published unstored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError

from schemas.events import TOPIC_GROUP, Disbursed, DisbursementReversed, Envelope, event_adapter
from schemas.messages import describe_validation_error
from services.ledger import store
from services.ledger.domain import (
    Aggregate,
    References,
    Rejected,
    load_aggregate,
    new_aggregate,
    referenced_line,
    stream_id_of,
)


@dataclass(frozen=True)
class InboundRecord:
    topic: str
    partition: int
    offset: int
    value: bytes

    @cached_property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.value or b"").digest()

    @property
    def coordinates(self) -> tuple[str, int, int, bytes]:
        """Where the record was read and what it held: a redelivery has the same."""
        return self.topic, self.partition, self.offset, self.sha256


@dataclass
class Accepted:
    record: InboundRecord
    event: Envelope
    payload: str
    content_hash: bytes
    stream_id: str
    stream_version: int
    context: dict[str, Any]


@dataclass
class Refused:
    record: InboundRecord
    reason: str
    field: str | None
    message: str
    event_id: str | None = None
    department: str | None = None


@dataclass
class Held:
    """A record that came too early (``Rejected.waits_for``): kept, and judged again when the
    stream it waits for changes, until the hold expires; then it is rejected."""

    record: InboundRecord
    reason: str
    field: str | None
    message: str
    waits_for: str
    held_since: datetime
    event_id: str
    department: str
    pending_id: int | None = None  # None: held by this batch, not stored yet


@dataclass
class Decision:
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)  # waiting at the end of the batch
    released: list[int] = field(default_factory=list)  # stored pending ids now judged
    duplicates: int = 0
    redelivered: int = 0  # records already judged before (Kafka redelivery)
    aggregates: dict[str, Aggregate] = field(default_factory=dict)
    expected_versions: dict[str, int] = field(default_factory=dict)


@dataclass
class Parsed:
    record: InboundRecord
    event: Envelope
    payload: str
    content_hash: bytes


def validate(record: InboundRecord) -> Envelope | Refused:
    """Check one record against the contract (CONTRACT.md sections 2-3); never raises."""
    if record.value is None:
        return Refused(record, "empty_record", None, "the record has no value")
    try:
        return event_adapter.validate_json(record.value)
    except ValidationError as error:
        reason, field_path, message = describe_validation_error(error)
        return Refused(record, reason, field_path, message, *_identity(record.value))
    except (ValueError, RecursionError) as error:  # pathological input the parser gives up on
        return Refused(record, "invalid_json", None, f"unreadable JSON: {error}"[:500])


def parse(record: InboundRecord, topic_groups: dict[str, str]) -> Parsed | Refused:
    """Validate one record, check it came on its event type's topic; never raises."""
    event = validate(record)
    if isinstance(event, Refused):
        return event
    expected_group = topic_groups.get(record.topic)
    if TOPIC_GROUP[event.event_type] != expected_group:
        return Refused(
            record,
            "wrong_topic",
            "event_type",
            f"event_type: {event.event_type} belongs on the {TOPIC_GROUP[event.event_type]} "
            f"topic, not {record.topic!r}",
            event.event_id,
            event.department,
        )
    # Stored and hashed in one canonical form, so that "identical content" does not depend
    # on the key order or whitespace of the record, nor on the field order of our models.
    # (compact, keys sorted, non-ASCII as is: the bytes json.dumps(..., sort_keys=True,
    # separators=(",", ":"), ensure_ascii=False) gives, made faster by pydantic-core and orjson)
    payload = orjson.dumps(orjson.loads(event.model_dump_json()), option=orjson.OPT_SORT_KEYS)
    payload_text = payload.decode()
    return Parsed(record, event, payload_text, hashlib.sha256(payload).digest())


def _identity(raw: bytes) -> tuple[str | None, str | None]:
    """Best effort event_id and department of an invalid record, so rejections can be filtered."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(obj, dict):
        return None, None
    event_id, department = obj.get("event_id"), obj.get("department")
    return (
        event_id[:128] if isinstance(event_id, str) else None,
        department[:64] if isinstance(department, str) else None,
    )


class Judge:
    """Applies the domain rules to records in arrival order. Pure: the caller loads the state
    (streams, known event ids, disbursements) before asking."""

    def __init__(
        self,
        known_hashes: dict[str, bytes],
        aggregates: dict[str, Aggregate],
        disbursements: dict[str, dict[str, Any]],
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
                self.decision.duplicates += 1
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
        )
        self.waiting.setdefault(rejected.waits_for, []).append((item, again))

    def _refuse(self, item: Parsed, reason: str, field: str | None, message: str) -> None:
        event = item.event
        self.decision.refused.append(
            Refused(item.record, reason, field, message, event.event_id, event.department)
        )


def decide(
    items: Sequence[Parsed | Refused],
    known_hashes: dict[str, bytes],
    aggregates: dict[str, Aggregate],
    disbursements: dict[str, dict[str, Any]],
    hold: timedelta = timedelta(0),
    now: datetime | None = None,
) -> Decision:
    """Judge one batch in memory, in order (no stored pending records)."""
    judge = Judge(known_hashes, aggregates, disbursements, now or datetime.now(UTC), hold)
    for item in items:
        judge.judge(item)
    return judge.finish()


def _reversed_line(event: Envelope, disbursements: dict[str, dict[str, Any]]) -> str | None:
    if not isinstance(event, DisbursementReversed):
        return None
    target = disbursements.get(event.data.reverses)
    return target["line_id"] if target else None


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


async def ingest_batch(
    pool: asyncpg.Pool,
    records: Sequence[InboundRecord],
    topic_groups: dict[str, str],
    hold: timedelta = timedelta(0),
    now: datetime | None = None,
) -> Decision:
    """Judge a batch of inbound records (and the held records it may release) in one
    transaction. With no records, it judges the held records whose hold has expired."""
    now = now or datetime.now(UTC)
    # Parsing needs no state: done before taking the append lock, so that ledger instances
    # parse their batches in parallel and hold the lock only to judge and append.
    parsed = [parse(record, topic_groups) for record in records]
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_appends(conn)
        # A record judged before (same topic, partition, offset and bytes: Kafka redelivered it,
        # e.g. after a rebalance) keeps its verdict; it is never judged again on a newer state.
        judged = await store.judged_records(conn, records)
        items = [item for record, item in zip(records, parsed, strict=True)
                 if record.coordinates not in judged]  # fmt: skip
        judge = Judge({}, {}, {}, now, hold)
        judge.decision.redelivered = len(records) - len(items)
        keys = await _load_state(conn, judge, [i for i in items if isinstance(i, Parsed)])
        pending = _held(await store.pending(conn, keys, now - hold), topic_groups)
        await _load_state(conn, judge, [p for p, _ in pending if isinstance(p, Parsed)])
        for item, held in pending:
            judge.load(item, held)
        for item in items:
            judge.judge(item)
        # a released record can release others that wait on streams this batch did not touch
        loaded, pending_ids = set(keys), {held.pending_id for _, held in pending}
        while extra := judge.changed - loaded:
            loaded |= extra
            more = [
                p
                for p in _held(await store.pending(conn, extra), topic_groups)
                if p[1].pending_id not in pending_ids
            ]
            pending_ids |= {held.pending_id for _, held in more}
            await _load_state(conn, judge, [p for p, _ in more if isinstance(p, Parsed)])
            for item, held in more:
                judge.judge(item, held)
        decision = judge.finish()
        await store.append(conn, decision)
    return decision


def _held(
    rows: list[asyncpg.Record], topic_groups: dict[str, str]
) -> list[tuple[Parsed | Refused, Held]]:
    held = []
    for row in rows:
        record = InboundRecord(
            row["source_topic"], row["source_partition"], row["source_offset"], bytes(row["raw"])
        )
        held.append(
            (
                parse(record, topic_groups),
                Held(
                    record,
                    row["reason"],
                    row["field"],
                    row["message"],
                    row["waits_for"],
                    row["held_since"],
                    row["event_id"],
                    row["department"],
                    row["pending_id"],
                ),
            )
        )
    return held


async def _load_state(conn: asyncpg.Connection, judge: Judge, parsed: list[Parsed]) -> set[str]:
    """Load what judging these events reads that the judge does not know yet; return the
    keys (streams, ``event:<id>``) their acceptance may change."""
    judge.seen.update(
        await store.known_hashes(
            conn, [p.event.event_id for p in parsed if p.event.event_id not in judge.seen]
        )
    )
    disbursements = judge.refs.disbursements
    reversals = [p.event.data.reverses for p in parsed if isinstance(p.event, DisbursementReversed)]
    disbursements.update(
        await store.disbursements(conn, [r for r in reversals if r not in disbursements])
    )
    # a reversal may point at a Disbursed earlier in this very batch
    disbursed_lines = {
        p.event.event_id: p.event.data.line_id for p in parsed if isinstance(p.event, Disbursed)
    }
    disbursed_lines.update({eid: d["line_id"] for eid, d in disbursements.items()})
    needed = streams_needed(parsed, disbursed_lines)
    aggregates = judge.decision.aggregates
    rows = await store.load_streams(conn, needed - aggregates.keys())
    for sid, (version, state) in rows.items():
        aggregates[sid] = load_aggregate(sid, version, state)
        judge.decision.expected_versions[sid] = version
    return needed | {f"event:{p.event.event_id}" for p in parsed}
