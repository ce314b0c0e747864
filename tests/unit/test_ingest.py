"""The batch orchestration (services/ledger/ingest.py) through the in-memory store: what a
batch stores, and what later batches make of it (redelivery, held records, expiry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.ledger.ingest import ingest_batch
from services.ledger.records import InboundRecord
from tests.fakes import FakeLedgerStore
from tests.unit.test_ledger_rules import TOPICS, authorise, record

HOLD = timedelta(minutes=10)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> FakeLedgerStore:
    return FakeLedgerStore()


def arrive(amount: str, event_id: str | None = None) -> InboundRecord:
    return record("FundsArrived", {"line_id": "L1", "amount": amount}, event_id)


def pay(amount: str, event_id: str) -> InboundRecord:
    return record(
        "Disbursed", {"line_id": "L1", "amount": amount, "economic_class": "302"}, event_id
    )


def again(original: InboundRecord, offset: int, **changes: object) -> InboundRecord:
    """The same event at another offset (with other content, if changes are given)."""
    body = {**json.loads(original.value), **changes}
    return InboundRecord(original.topic, original.partition, offset, json.dumps(body).encode())


async def test_accepted_events_are_appended_in_order_with_their_streams(
    store: FakeLedgerStore,
) -> None:
    decision = await ingest_batch(store, [authorise(event_id="a1"), arrive("400.00", "f1")], TOPICS)
    assert [a.event.event_id for a in decision.accepted] == ["a1", "f1"]
    assert store.accepted_ids() == ["a1", "f1"]
    assert [(e.position, e.stream_id, e.stream_version) for e in store.tables.events] == [
        (1, "line:L1", 1),
        (2, "line:L1", 2),
    ]
    version, state = store.tables.streams["line:L1"]
    assert version == 2 and json.loads(state)["arrived"] == "400.00"
    assert store.notifications == 1


async def test_a_broken_rule_and_an_unreadable_record_are_stored_rejections(
    store: FakeLedgerStore,
) -> None:
    garbage = InboundRecord("budget.events", 0, 77, b"{not json")
    decision = await ingest_batch(
        store, [authorise(), arrive("100.00"), pay("100.01", "pay-1"), garbage], TOPICS
    )
    assert [r.reason for r in decision.refused] == ["disbursement_exceeds_arrived", "invalid_json"]
    assert store.rejected() == [("disbursement_exceeds_arrived", "pay-1"), ("invalid_json", None)]
    assert store.tables.rejections[1].raw == b"{not json"
    assert "pay-1" not in store.accepted_ids()


async def test_the_same_event_again_is_a_no_op(store: FakeLedgerStore) -> None:
    first = authorise(event_id="a1")
    await ingest_batch(store, [first], TOPICS)
    decision = await ingest_batch(store, [again(first, 500)], TOPICS)  # a later batch
    assert (decision.duplicates, decision.accepted, decision.refused) == (1, [], [])
    assert store.accepted_ids() == ["a1"] and store.rejected() == []


async def test_the_same_event_id_with_other_content_is_rejected(store: FakeLedgerStore) -> None:
    first = authorise(event_id="a1")
    await ingest_batch(store, [first], TOPICS)
    decision = await ingest_batch(store, [again(first, 501, source="other")], TOPICS)
    assert decision.duplicates == 0
    assert store.rejected() == [("duplicate_event_id_conflict", "a1")]
    assert len(store.tables.events) == 1


async def test_a_held_record_is_released_by_a_later_batch(store: FakeLedgerStore) -> None:
    early = pay("300.00", "pay-early")
    first = await ingest_batch(store, [authorise(), early], TOPICS, HOLD, T0)
    assert [(h.reason, h.waits_for) for h in first.held] == [
        ("disbursement_exceeds_arrived", "line:L1")
    ]
    # redelivered while held: still one held record
    redelivered = await ingest_batch(store, [early], TOPICS, HOLD, T0 + timedelta(seconds=1))
    assert redelivered.redelivered == 1 and len(store.tables.pending) == 1

    await ingest_batch(store, [arrive("300.00", "arr-1")], TOPICS, HOLD, T0 + timedelta(minutes=5))
    assert store.accepted_ids()[-2:] == ["arr-1", "pay-early"]
    assert store.tables.pending == {} and store.rejected() == []


async def test_a_chain_of_early_events_is_released_in_order(store: FakeLedgerStore) -> None:
    def proc(event_type: str, event_id: str, **data: str) -> InboundRecord:
        return record(event_type, data, event_id, topic="procurement.events")

    contract = proc(
        "ContractAwarded", "k1", procurement_id="P1", contract_id="K1", supplier="s", amount="9.00"
    )
    plan = proc(
        "ProcurementPlanned", "p1", procurement_id="P1", line_id="L1", amount="10.00",
        method="inquiry",
    )  # fmt: skip
    await ingest_batch(store, [contract], TOPICS, HOLD, T0)
    await ingest_batch(store, [plan], TOPICS, HOLD, T0)
    assert store.accepted_ids() == [] and len(store.tables.pending) == 2
    # the line releases the plan, whose stream this batch never touched releases the contract
    await ingest_batch(store, [authorise(event_id="a1")], TOPICS, HOLD, T0)
    assert store.accepted_ids() == ["a1", "p1", "k1"]
    assert store.tables.events[-1].context == {"line_id": "L1"}


async def test_a_redelivered_record_keeps_its_verdict(store: FakeLedgerStore) -> None:
    overspend = pay("500.00", "pay-1")
    await ingest_batch(store, [authorise(), arrive("400.00"), overspend], TOPICS)
    await ingest_batch(store, [arrive("600.00")], TOPICS)
    # Kafka hands the same record again (a rebalance): judged on today's state it would pass
    decision = await ingest_batch(store, [overspend], TOPICS)
    assert (decision.redelivered, decision.accepted, decision.refused) == (1, [], [])
    assert "pay-1" not in store.accepted_ids()
    assert len(store.tables.rejections) == 1


async def test_a_hold_expires_into_a_rejection(store: FakeLedgerStore) -> None:
    await ingest_batch(store, [authorise(), pay("1.00", "pay-x")], TOPICS, HOLD, T0)
    assert not await store.has_expired(T0 - timedelta(seconds=1))
    nothing = await ingest_batch(store, [], TOPICS, HOLD, T0 + HOLD - timedelta(seconds=1))
    assert nothing.refused == [] and len(store.tables.pending) == 1
    assert await store.has_expired(T0)
    expired = await ingest_batch(store, [], TOPICS, HOLD, T0 + HOLD)
    assert [(r.reason, r.event_id) for r in expired.refused] == [
        ("disbursement_exceeds_arrived", "pay-x")
    ]
    assert "held 600 s" in expired.refused[0].message
    assert store.tables.pending == {}
    assert json.loads(store.tables.rejections[0].raw)["event_id"] == "pay-x"


async def test_a_reversal_carries_the_disbursement_it_reverses(store: FakeLedgerStore) -> None:
    await ingest_batch(store, [authorise(), arrive("100.00"), pay("60", "pay-1")], TOPICS)
    reverse = record("DisbursementReversed", {"reverses": "pay-1", "reason": "wrong payee"})
    decision = await ingest_batch(store, [reverse], TOPICS)  # the Disbursed read from the store
    assert [a.stream_id for a in decision.accepted] == ["line:L1"]
    assert store.tables.events[-1].context == {
        "reversed": {
            "line_id": "L1",
            "amount": "60.00",
            "economic_class": "302",
            "spending_department": "D1",
            "funding_source": "appropriation",
        }
    }
    assert json.loads(store.tables.streams["line:L1"][1])["spent"] == "0.00"


async def test_a_rejection_is_resolved_when_its_correction_is_accepted(
    store: FakeLedgerStore,
) -> None:
    good = authorise("10.00", event_id="auth-1")
    await ingest_batch(
        store, [again(good, 900, fiscal_year=1900), good, again(good, 901, source="other")], TOPICS
    )
    assert [(r.reason, r.resolved_position) for r in store.tables.rejections] == [
        ("invalid_field", 1),
        ("duplicate_event_id_conflict", None),
    ]


async def test_a_failed_batch_keeps_nothing_and_its_redelivery_is_judged_afresh(
    store: FakeLedgerStore,
) -> None:
    batch = [authorise(event_id="a1"), pay("1.00", "pay-1")]
    store.fail_appends = 1
    with pytest.raises(ConnectionError):
        await ingest_batch(store, batch, TOPICS, HOLD, T0)
    assert store.tables.events == [] and store.tables.pending == {}
    assert store.notifications == 0
    decision = await ingest_batch(store, batch, TOPICS, HOLD, T0)  # Kafka redelivers it
    assert decision.redelivered == 0
    assert store.accepted_ids() == ["a1"] and len(store.tables.pending) == 1
