"""The load generator (bench/city_year.py): valid contract events the ledger accepts, the
same on every run, made one at a time."""

from __future__ import annotations

import hashlib
import itertools
import json
import tracemalloc

from bench.city_year import city_year, district
from services.ledger.judge import decide
from services.ledger.records import InboundRecord, parse

TOPICS = {"budget.events": "budget", "procurement.events": "procurement", "case.events": "case"}


def test_the_ledger_accepts_every_event_of_a_district_prefix() -> None:
    topic_of = {group: topic for topic, group in TOPICS.items()}
    records = [
        InboundRecord(topic_of[group], 0, i, json.dumps(event).encode())
        for i, (group, event) in enumerate(itertools.islice(district(3), 60_000))
    ]
    decision = decide([parse(r, TOPICS) for r in records], {}, {}, {})
    assert decision.refused == [] and decision.held == []
    assert len(decision.accepted) == 60_000
    kinds = {a.event.event_type for a in decision.accepted}
    assert {"BudgetAuthorised", "FundsArrived", "Disbursed", "CaseReported", "CaseFiled",
            "CaseDispatched", "CaseDisposed", "CaseClosed"} <= kinds  # fmt: skip


def test_deterministic_and_streaming() -> None:
    def digest(n: int) -> str:
        h = hashlib.sha256()
        for _, event in itertools.islice(city_year(2), n):
            h.update(json.dumps(event).encode())
        return h.hexdigest()

    assert digest(20_000) == digest(20_000)
    tracemalloc.start()
    for _ in itertools.islice(city_year(8), 200_000):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5 * 2**20  # nothing of the year is kept
