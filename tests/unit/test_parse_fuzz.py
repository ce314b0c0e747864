"""The ledger's parser under generated input: whatever the record holds (bench/fuzz.py's
mutations of valid envelopes, any JSON in any field, any bytes, and atheris' coverage-guided
mutations), ``parse`` answers with the event or a refusal that has a reason and a message; it
never raises."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import fuzz
from bench.fuzz import judged
from deploy.infra import REPO
from services.common.settings import Topics
from services.ledger.records import Refused

BASE = fuzz.base_events(cases=200)
TOPICS = Topics().inbound()
TOPIC_OF = {group: topic for topic, group in TOPICS.items()}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


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


def test_coverage_guided_fuzzing_finds_nothing(tmp_path: Path) -> None:
    """bench/parse_fuzz.py: atheris (libFuzzer) mutates the seed corpus of valid records
    towards new paths of the instrumented parser; any exception or broken verdict would stop
    it with exit code 1 and the input saved."""
    pytest.importorskip("atheris")
    run = subprocess.run(
        [sys.executable, "-m", "bench.parse_fuzz", "-atheris_runs=100000", "-seed=2017",
         f"-artifact_prefix={tmp_path}/"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done 100000 runs" in run.stderr or "Done 100000 in" in run.stderr, run.stderr[-3000:]
    assert not list(tmp_path.iterdir())
