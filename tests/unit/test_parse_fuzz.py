"""The ledger's parser under generated input: whatever the record holds (bench/fuzz.py's
mutations of valid envelopes, any JSON in any field, any bytes), ``parse`` answers with the
event or a refusal that has a reason and a message; it never raises."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bench import fuzz
from services.common.settings import Topics
from services.ledger.records import InboundRecord, Parsed, Refused, parse

BASE = fuzz.base_events(cases=200)
TOPICS = Topics().inbound()
TOPIC_OF = {group: topic for topic, group in TOPICS.items()}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


def judged(topic: str, value: bytes) -> Parsed | Refused:
    verdict = parse(InboundRecord(topic, 0, 0, value), TOPICS)
    if isinstance(verdict, Refused):
        assert re.fullmatch(r"[a-z_]+", verdict.reason), verdict
        assert verdict.message, verdict
        for text in (verdict.field, verdict.message, verdict.event_id, verdict.department):
            if text is not None:  # storable by PostgreSQL
                assert "\x00" not in text, verdict
                text.encode()  # raises on a lone surrogate
    else:
        assert isinstance(verdict, Parsed)
        assert json.loads(verdict.payload)["event_id"] == verdict.event.event_id
    return verdict


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), index=st.integers(0, len(BASE) - 1))
def test_mutations_of_valid_envelopes(seed: int, index: int) -> None:
    group, event = BASE[index]
    (_, _, value), *_ = fuzz.mutants(1, seed, [(group, event)])
    judged(TOPIC_OF[group], value or b"")


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(BASE) - 1), value=JSON, choice=st.randoms())
def test_any_json_in_any_field(index: int, value: Any, choice: random.Random) -> None:
    group, event = BASE[index]
    mutated = json.loads(json.dumps(event))
    container, key = choice.choice(fuzz.fields_of(mutated, with_id=True))
    container[key] = value
    judged(TOPIC_OF[group], json.dumps(mutated, ensure_ascii=False).encode())


@settings(max_examples=300, deadline=None)
@given(value=st.binary(max_size=2_000))
def test_any_bytes(value: bytes) -> None:
    assert isinstance(judged("case.events", value), Refused)


def test_what_postgresql_cannot_store_is_refused_or_escaped() -> None:
    """PostgreSQL's text holds neither U+0000 nor a lone surrogate: an event with such a text
    is refused before it is stored, naming the field, and the refusal's own texts carry them
    escaped."""
    group, event = next((g, e) for g, e in BASE if e["event_type"] == "BudgetAuthorised")
    titled = {**event, "data": {**event["data"], "title": "网格\u0000化"}}
    verdict = judged(TOPIC_OF[group], json.dumps(titled).encode())
    assert isinstance(verdict, Refused)
    assert (verdict.reason, verdict.field) == ("text_contains_nul", "data.title")
    named = judged(TOPIC_OF[group], json.dumps({**event, "event_id": "a\u0000"}).encode())
    assert isinstance(named, Refused) and named.event_id == "a\\u0000"
    # an encoded lone surrogate in the bytes: json.loads reads it, PostgreSQL cannot store it
    raw = json.dumps({**event, "event_id": "a-b"}).encode().replace(b"a-b", b"a\xed\xa0\x80")
    surrogate = judged(TOPIC_OF[group], raw)
    assert isinstance(surrogate, Refused) and surrogate.event_id == "a\\ud800"
