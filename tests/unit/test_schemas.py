"""The contract models: field rules, reason codes, and the checked-in JSON Schemas."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from demo import guandu2017
from schemas import generate
from schemas.events import ALL_EVENTS
from schemas.messages import describe_validation_error
from schemas.versions import EARLIER_VERSIONS, event_adapter


def funds_arrived(**data: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "event_type": "FundsArrived",
        "schema_version": 1,
        "occurred_at": "2017-08-31T10:00:00+08:00",
        "department": "GD-CGJ",
        "fiscal_year": 2017,
        "source": "finance",
        "data": {"line_id": "L1", "amount": "100.50", **data},
    }


def reason_of(document: dict[str, Any] | bytes) -> tuple[str, str | None, str]:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(ValidationError) as error:
        event_adapter.validate_json(raw)
    return describe_validation_error(error.value)


def test_json_schema_files_match_the_models() -> None:
    docs = generate.documents()
    assert {f"{m.__name__}.json" for m in ALL_EVENTS} <= set(docs)
    for name, text in docs.items():
        assert (generate.OUT / name).read_text("utf-8") == text, f"{name} drifted: make schemas"


def test_money_is_exact() -> None:
    event = event_adapter.validate_json(json.dumps(funds_arrived()))
    assert event.data.amount == Decimal("100.50")
    assert json.loads(event.model_dump_json())["data"]["amount"] == "100.50"


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (100.5, "amount_must_be_string"),
        (100, "amount_must_be_string"),
        ("1.001", "invalid_money_format"),
        ("1e5", "invalid_money_format"),
        ("1234567890123456.00", "invalid_money_format"),
        ("0.00", "amount_must_be_positive"),
        ("-5.00", "amount_must_be_positive"),
    ],
)
def test_money_rules_have_reason_codes(amount: Any, reason: str) -> None:
    code, field, message = reason_of(funds_arrived(amount=amount))
    assert (code, field) == (reason, "data.amount")
    assert message.startswith("data.amount")


@pytest.mark.parametrize(
    ("mutate", "reason", "field"),
    [
        (lambda d: d.update(event_type="Nope"), "unknown_event_type", "event_type"),
        (lambda d: d.pop("event_type"), "missing_event_type", None),
        (lambda d: d.update(schema_version=2), "unsupported_schema_version", "schema_version"),
        (lambda d: d.update(surprise=1), "unknown_field", "surprise"),
        (lambda d: d["data"].update(extra="x"), "unknown_field", "data.extra"),
        (lambda d: d.pop("department"), "missing_field", "department"),
        (lambda d: d.update(department="bad code!"), "invalid_field", "department"),
        (lambda d: d.update(fiscal_year=1999), "invalid_field", "fiscal_year"),
        (
            lambda d: d.update(occurred_at="2017-08-31T10:00:00"),
            "timestamp_needs_offset",
            "occurred_at",
        ),
        (lambda d: d.update(event_id=""), "invalid_field", "event_id"),
    ],
)
def test_envelope_rules(mutate: Any, reason: str, field: str | None) -> None:
    document = funds_arrived()
    mutate(document)
    code, named_field, _ = reason_of(document)
    assert (code, named_field) == (reason, field)


def test_unreadable_bytes_are_invalid_json() -> None:
    assert reason_of(b"\xff\xfe not json")[0] == "invalid_json"
    assert reason_of(b"[1, 2]")[0] == "not_an_object"


def test_procurement_amount_within_amount() -> None:
    document = funds_arrived()
    document.update(event_type="BudgetAuthorised")
    document["data"] = {
        "line_id": "L1",
        "title": "t",
        "category": "project",
        "amount": "10.00",
        "procurement_amount": "10.01",
    }
    assert reason_of(document)[0] == "procurement_exceeds_amount"


def test_demo_events_are_valid_contract() -> None:
    sample = [*guandu2017.budget_events(), *itertools.islice(guandu2017.case_events(), 300)]
    for event in sample:
        event_adapter.validate_json(json.dumps(event))
    types = {event["event_type"] for event in sample}
    assert {
        "BudgetAuthorised",
        "FundsTransferred",
        "Disbursed",
        "CaseReported",
        "CaseClosed",
    } <= types


def test_every_event_type_has_a_valid_example_in_both_documents() -> None:
    from schemas.examples import example

    spec = json.loads(generate.documents()["asyncapi.json"])
    topics = {channel["address"] for channel in spec["channels"].values()}
    assert topics == {
        "budget.events",
        "procurement.events",
        "case.events",
        "evaluation.events",
        "ledger.journal",
        "ledger.rejected",
    }
    for model in ALL_EVENTS + EARLIER_VERSIONS:
        name = model.__name__
        assert isinstance(event_adapter.validate_json(json.dumps(example(name))), model)
        assert spec["components"]["schemas"][name]["examples"] == [example(name)]
        assert spec["components"]["schemas"][name]["description"]
