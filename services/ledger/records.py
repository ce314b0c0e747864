"""Inbound records and the ledger's verdicts on them: parsing and validating a record against
the contract (docs/contract.md sections 2-3), and what a batch decided (``Decision``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import orjson
from pydantic import ValidationError

from schemas.events import (
    DEFAULT_FUNDING_SOURCE,
    FISCAL_YEARS,
    TOPIC_GROUP,
    CaseFiledData,
    Envelope,
)
from schemas.messages import NUL, JournalContext, describe_validation_error, nul_path
from schemas.versions import event_adapter, upcast
from services.ledger.domain import Aggregate

# Event types that gained the optional data.funding_source after they were first published: the
# default is left out of their canonical form, so that an event without the field keeps the
# stored form and content hash it had (sent again, it is still identical content).
LATER_FUNDING_SOURCE = frozenset({"BudgetAdjusted", "FundsArrived", "Disbursed"})

Coordinates = tuple[str, int, int, bytes]
"""Where a record was read and what it held: topic, partition, offset, sha256 of its value."""


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
    def coordinates(self) -> Coordinates:
        """Where the record was read and what it held: a redelivery has the same."""
        return self.topic, self.partition, self.offset, self.sha256


@dataclass
class Parsed:
    record: InboundRecord
    event: Envelope
    payload: str
    content_hash: bytes


@dataclass
class Accepted:
    record: InboundRecord
    event: Envelope
    payload: str
    content_hash: bytes
    stream_id: str
    stream_version: int
    context: JournalContext


@dataclass
class Refused:
    record: InboundRecord
    reason: str
    field: str | None
    message: str
    event_id: str | None = None
    department: str | None = None
    event_type: str | None = None  # when the record names a known one

    def __post_init__(self) -> None:
        # PostgreSQL's text holds neither U+0000 nor a lone surrogate (which json.loads reads
        # from bytes): the record's own bytes keep what it held, and the texts stored with
        # the refusal carry them escaped (an insert that failed on one stalled the partition)
        for name in ("field", "message", "event_id", "department"):
            if (value := getattr(self, name)) is not None:
                escaped = value.replace(NUL, "\\u0000").encode("utf-8", "backslashreplace")
                setattr(self, name, escaped.decode())


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
    event_type: str | None = None  # known when held by this batch


@dataclass
class Decision:
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)  # waiting at the end of the batch
    released: list[int] = field(default_factory=list)  # stored pending ids now judged
    duplicate_types: list[str] = field(default_factory=list)  # event types of the duplicates
    redelivered: int = 0  # records already judged before (Kafka redelivery)
    aggregates: dict[str, Aggregate] = field(default_factory=dict)
    expected_versions: dict[str, int] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        """Accepted events delivered again with identical content: ignored."""
        return len(self.duplicate_types)


def validate(record: InboundRecord) -> Envelope | Refused:
    """Check one record against the contract (docs/contract.md sections 2-3); never raises."""
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
        home = TOPIC_GROUP[event.event_type]
        message = f"{event.event_type} belongs on the {home} topic, not {record.topic!r}"
        return _refused(record, event, "wrong_topic", "event_type", message)
    if (outside := _time_outside_its_years(event)) is not None:
        return _refused(record, event, "time_outside_fiscal_year", *outside)
    # Stored and hashed in one canonical form, so that "identical content" does not depend
    # on the key order or whitespace of the record, nor on the field order of our models.
    # (compact, keys sorted, non-ASCII as is: the bytes json.dumps(..., sort_keys=True,
    # separators=(",", ":"), ensure_ascii=False) gives, made faster by pydantic-core and orjson)
    canonical = orjson.loads(event.model_dump_json())
    if b"\\u0000" in record.value and (where := nul_path(canonical)) is not None:
        message = "text must not contain the character U+0000"
        return _refused(record, event, "text_contains_nul", where, message)
    if event.event_type in LATER_FUNDING_SOURCE:
        data = canonical["data"]
        if data.get("funding_source") == DEFAULT_FUNDING_SOURCE:
            del data["funding_source"]
    payload = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)
    payload_text = payload.decode()
    # stored and hashed in the version it came in; judged in the current one
    return Parsed(record, upcast(event), payload_text, hashlib.sha256(payload).digest())


def _time_outside_its_years(event: Envelope) -> tuple[str, str] | None:
    """(field, message) of a time too far from the event's fiscal year (a projection could not
    even place some on a day): from the year before it (a budget approved ahead) to the year
    after it (final accounts, late cases); an evaluator's writing about the year (the
    evaluation topic) up to the last fiscal year there may be."""
    first = event.fiscal_year - 1
    last = FISCAL_YEARS.stop if TOPIC_GROUP[event.event_type] == "evaluation" else first + 2
    # (a pydantic model's missing attribute is slow to find out: 13 µs a record)
    deadline = event.data.deadline_at if isinstance(event.data, CaseFiledData) else None
    for name, at in (("occurred_at", event.occurred_at), ("data.deadline_at", deadline)):
        if at is not None and not first <= at.year <= last:
            year = event.fiscal_year
            return name, f"{at.isoformat()} is outside {first}-{last}, the years of {year}'s events"
    return None


def _refused(
    record: InboundRecord, event: Envelope, reason: str, field_path: str, message: str
) -> Refused:
    """A valid envelope refused by a rule of the record as a whole."""
    return Refused(
        record,
        reason,
        field_path,
        f"{field_path}: {message}",
        event.event_id,
        event.department,
        event.event_type,
    )


def _identity(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """Best effort event_id, department and (known) event type of an invalid record, so
    rejections can be filtered and counted."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None, None, None
    if not isinstance(obj, dict):
        return None, None, None
    event_id, department = obj.get("event_id"), obj.get("department")
    event_type = obj.get("event_type")
    return (
        event_id[:128] if isinstance(event_id, str) else None,
        department[:64] if isinstance(department, str) else None,
        event_type if isinstance(event_type, str) and event_type in TOPIC_GROUP else None,
    )
