"""Messages the ledger publishes: the journal (``ledger.journal``) and rejections
(``ledger.rejected``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.events import DEFAULT_FUNDING_SOURCE, Disbursed, FundingSource
from schemas.money import Money
from schemas.versions import VERSIONS, AnyEvent


class ReversedDisbursement(BaseModel):
    """The disbursement a ``DisbursementReversed`` takes back, as the ledger knew it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_id: str = Field(description="The budget line it was spent from")
    amount: Money = Field(description="Yuan, as disbursed (counted negative on reversal)")
    economic_class: str = Field(description="Its economic class, e.g. 302")
    spending_department: str = Field(description="The unit that spent it")
    funding_source: FundingSource = Field(
        DEFAULT_FUNDING_SOURCE, description="The funding source it was spent from"
    )

    @classmethod
    def of(cls, event: Disbursed) -> ReversedDisbursement:
        data = event.data
        return cls(
            line_id=data.line_id,
            amount=data.amount.value,
            economic_class=data.economic_code,
            spending_department=data.spending_department or event.department,
            funding_source=data.funding_source,
        )


class JournalContext(BaseModel):
    """Facts the ledger knew when it accepted an event, which the event itself does not carry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reversed: ReversedDisbursement | None = Field(
        None, description="DisbursementReversed: the disbursement it reverses"
    )
    line_id: str | None = Field(
        None, description="ContractAwarded: the budget line of its procurement"
    )


class JournalEntry(BaseModel):
    """An accepted event, in ledger order. Positions grow strictly within a department."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: int = Field(description="Global ledger position; a consumer applies each once")
    stream_id: str = Field(description="Aggregate stream, e.g. line:L1 or case:DEPT:C1")
    stream_version: int = Field(description="Version of the stream after this event (1-based)")
    recorded_at: datetime = Field(description="When the ledger accepted the event")
    event: AnyEvent = Field(description="The accepted event, as validated (see schemas/json)")
    context: JournalContext = Field(
        default_factory=JournalContext,
        description="Facts the ledger knew when accepting (see JournalContext)",
    )


class Rejection(BaseModel):
    """An inbound record the ledger did not accept, with what is needed to fix and resubmit it."""

    model_config = ConfigDict(extra="forbid")

    rejection_id: int
    reason: str = Field(
        description="Machine-readable reason code", examples=["amount_must_be_string"]
    )
    field: str | None = Field(description="Dotted path of the offending field, when there is one")
    message: str = Field(description="What rule was broken, for a person")
    source_topic: str
    source_partition: int
    source_offset: int
    received_at: datetime
    event_id: str | None = None
    department: str | None = None
    original_b64: str = Field(description="The original record value, base64")


# reason codes raised by our own validators (schemas/money.py, schemas/events.py)
_OWN_REASONS = {
    "amount_must_be_string",
    "invalid_money_format",
    "amount_must_be_positive",
    "amount_must_not_be_negative",
    "amount_must_not_be_zero",
    "invalid_decimal",
    "procurement_exceeds_amount",
    "duplicate_indicator",
    "weights_not_100",
    "digest_mismatch",
}
# pydantic's own error types with a reason code of their own; any other is "invalid_field"
_PYDANTIC_REASONS = {
    "json_invalid": "invalid_json",
    "dict_type": "not_an_object",
    "model_type": "not_an_object",
    "union_tag_invalid": "unknown_event_type",
    "union_tag_not_found": "missing_event_type",
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "timezone_aware": "timestamp_needs_offset",
}


def describe_validation_error(error: ValidationError) -> tuple[str, str | None, str]:
    """(reason code, field path, human message) for the first problem of a validation error."""
    first = error.errors(include_url=False)[0]
    loc, kind = list(first["loc"]), first["type"]
    # a location in the union starts with the event type, then (for a type with several
    # versions) the version: neither is a field
    tag = str(loc.pop(0)) if loc and str(loc[0])[:1].isupper() else None
    if loc and isinstance(loc[0], int) and tag in VERSIONS:
        loc.pop(0)
    field = ".".join(map(str, loc)) or None
    reason = kind if kind in _OWN_REASONS else _PYDANTIC_REASONS.get(kind, "invalid_field")
    message = f"{field}: {first['msg']}" if field else first["msg"]
    versioned = tag in VERSIONS and not loc  # the error is about which version
    if versioned and kind == "union_tag_not_found":
        reason, field, message = "missing_field", "schema_version", "schema_version: missing"
    elif versioned or (field == "schema_version" and kind == "literal_error"):
        given = first["input"].get("schema_version") if versioned else first["input"]
        versions = " and ".join(map(str, VERSIONS.get(tag or "", (1,))))
        reason, field = "unsupported_schema_version", "schema_version"
        message = f"schema_version: {given!r} is not a version of {tag} ({versions})"
    elif kind == "union_tag_invalid":
        message = "event_type: " + first["msg"]
        field = "event_type"
    return reason, field, message[:500]


NUL = "\x00"  # a character no text of PostgreSQL (text, jsonb) can hold


def nul_path(value: object, path: str = "") -> str | None:
    """The path of the first string holding U+0000, which PostgreSQL's text and jsonb cannot
    store; None if there is none."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return None
    for key, item in items:
        if (found := nul_path(item, f"{path}.{key}" if path else str(key))) is not None:
            return found
    return None
