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
from typing import Any

import asyncpg
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
class Decision:
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    duplicates: int = 0
    aggregates: dict[str, Aggregate] = field(default_factory=dict)
    expected_versions: dict[str, int] = field(default_factory=dict)


@dataclass
class Parsed:
    record: InboundRecord
    event: Envelope
    payload: str
    content_hash: bytes


def parse(record: InboundRecord, topic_groups: dict[str, str]) -> Parsed | Refused:
    """Validate one record against the contract; never raises."""
    if record.value is None:
        return Refused(record, "empty_record", None, "the record has no value")
    try:
        event = event_adapter.validate_json(record.value)
    except ValidationError as error:
        reason, field_path, message = describe_validation_error(error)
        return Refused(record, reason, field_path, message, *_identity(record.value))
    except (ValueError, RecursionError) as error:  # pathological input the parser gives up on
        return Refused(record, "invalid_json", None, f"unreadable JSON: {error}"[:500])
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
    payload = json.dumps(
        event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return Parsed(record, event, payload, hashlib.sha256(payload.encode()).digest())


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


def decide(
    items: Sequence[Parsed | Refused],
    known_hashes: dict[str, bytes],
    aggregates: dict[str, Aggregate],
    disbursements: dict[str, dict[str, Any]],
) -> Decision:
    """Apply the domain rules to a batch, in order. Pure: the caller loaded everything needed."""
    decision = Decision(aggregates=aggregates)
    decision.expected_versions = {sid: agg.version for sid, agg in aggregates.items()}
    refs = References(aggregates, disbursements)
    seen = dict(known_hashes)
    for item in items:
        if isinstance(item, Refused):
            decision.refused.append(item)
            continue
        event = item.event
        previous = seen.get(event.event_id)
        if previous is not None:
            if previous == item.content_hash:
                decision.duplicates += 1
            else:
                decision.refused.append(
                    Refused(
                        item.record,
                        "duplicate_event_id_conflict",
                        "event_id",
                        f"event_id: {event.event_id!r} was already accepted with different content",
                        event.event_id,
                        event.department,
                    )
                )
            continue
        try:
            stream_id = stream_id_of(event, _reversed_line(event, disbursements))
            aggregate = aggregates.setdefault(stream_id, new_aggregate(stream_id))
            decision.expected_versions.setdefault(stream_id, 0)
            context = aggregate.record(event, refs)
        except Rejected as rejected:
            decision.refused.append(
                Refused(
                    item.record,
                    rejected.reason,
                    rejected.field,
                    rejected.message,
                    event.event_id,
                    event.department,
                )
            )
            continue
        seen[event.event_id] = item.content_hash
        decision.accepted.append(
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
    return decision


def _reversed_line(event: Envelope, disbursements: dict[str, dict[str, Any]]) -> str | None:
    if not isinstance(event, DisbursementReversed):
        return None
    target = disbursements.get(event.data.reverses)
    return target["line_id"] if target else None


def streams_needed(items: Sequence[Parsed | Refused], disbursed_lines: dict[str, str]) -> set[str]:
    """Every stream a batch may read: its own streams and the budget lines it refers to."""
    needed: set[str] = set()
    for item in items:
        if isinstance(item, Refused):
            continue
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
    pool: asyncpg.Pool, records: Sequence[InboundRecord], topic_groups: dict[str, str]
) -> Decision:
    items = [parse(record, topic_groups) for record in records]
    parsed = [item for item in items if isinstance(item, Parsed)]
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_appends(conn)
        known = await store.known_hashes(conn, [p.event.event_id for p in parsed])
        reversal_targets = [
            p.event.data.reverses for p in parsed if isinstance(p.event, DisbursementReversed)
        ]
        disbursements = await store.disbursements(conn, reversal_targets)
        # a reversal may point at a Disbursed earlier in this very batch
        disbursed_lines = {
            p.event.event_id: p.event.data.line_id for p in parsed if isinstance(p.event, Disbursed)
        }
        disbursed_lines.update({eid: d["line_id"] for eid, d in disbursements.items()})
        rows = await store.load_streams(conn, streams_needed(items, disbursed_lines))
        aggregates = {
            sid: load_aggregate(sid, version, state) for sid, (version, state) in rows.items()
        }
        decision = decide(items, known, aggregates, disbursements)
        await store.append(conn, decision)
    return decision
