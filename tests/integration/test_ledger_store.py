"""The ledger's batches against a real PostgreSQL: redelivery, held records, resolution."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.ledger.ingest import ingest_batch
from services.ledger.records import InboundRecord
from services.ledger.store import PostgresLedgerStore
from tests.integration.conftest import LEDGER_MIGRATIONS, migrated_pool
from tests.unit.test_ledger_rules import TOPICS, authorise, record

pytestmark = pytest.mark.integration

HOLD = timedelta(minutes=10)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(database, LEDGER_MIGRATIONS) as pool:
        yield pool


async def accepted_ids(pool: asyncpg.Pool) -> list[str]:
    return [
        r["event_id"] for r in await pool.fetch("SELECT event_id FROM ledger.events ORDER BY 1")
    ]


async def journal(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT event_type, event_id FROM ledger.events ORDER BY position")
    return [(r["event_type"], r["event_id"]) for r in rows]


def pay(amount: str, event_id: str) -> InboundRecord:
    return record(
        "Disbursed", {"line_id": "L1", "amount": amount, "economic_class": "302"}, event_id
    )


async def test_a_redelivered_rejection_keeps_its_verdict(pool: asyncpg.Pool) -> None:
    overspend = pay("500.00", "pay-1")
    await ingest_batch(
        PostgresLedgerStore(pool),
        [authorise(), record("FundsArrived", {"line_id": "L1", "amount": "400.00"}), overspend],
        TOPICS,
    )
    await ingest_batch(
        PostgresLedgerStore(pool),
        [record("FundsArrived", {"line_id": "L1", "amount": "600.00"})],
        TOPICS,
    )
    # Kafka hands the same record again (a rebalance): judged on today's state it would pass
    decision = await ingest_batch(PostgresLedgerStore(pool), [overspend], TOPICS)
    assert (decision.redelivered, decision.accepted, decision.refused) == (1, [], [])
    assert "pay-1" not in await accepted_ids(pool)
    assert await pool.fetchval("SELECT count(*) FROM ledger.rejections") == 1


async def test_held_records_are_released_by_a_later_batch(pool: asyncpg.Pool) -> None:
    early = pay("300.00", "pay-early")
    first = await ingest_batch(PostgresLedgerStore(pool), [authorise(), early], TOPICS, HOLD, T0)
    assert [h.reason for h in first.held] == ["disbursement_exceeds_arrived"]
    # redelivered while held: still one held record
    await ingest_batch(PostgresLedgerStore(pool), [early], TOPICS, HOLD, T0 + timedelta(seconds=1))
    assert await pool.fetchval("SELECT count(*) FROM ledger.pending") == 1

    arrival = record("FundsArrived", {"line_id": "L1", "amount": "300.00"}, "arr-1")
    await ingest_batch(
        PostgresLedgerStore(pool), [arrival], TOPICS, HOLD, T0 + timedelta(minutes=5)
    )
    assert [e for _, e in await journal(pool)][-2:] == ["arr-1", "pay-early"]
    assert await pool.fetchval("SELECT count(*) FROM ledger.pending") == 0
    assert await pool.fetchval("SELECT count(*) FROM ledger.rejections") == 0


async def test_a_hold_expires_into_a_rejection(pool: asyncpg.Pool) -> None:
    await ingest_batch(
        PostgresLedgerStore(pool), [authorise(), pay("1.00", "pay-x")], TOPICS, HOLD, T0
    )
    nothing = await ingest_batch(
        PostgresLedgerStore(pool), [], TOPICS, HOLD, T0 + HOLD - timedelta(seconds=1)
    )
    assert nothing.refused == []
    expired = await ingest_batch(PostgresLedgerStore(pool), [], TOPICS, HOLD, T0 + HOLD)
    assert [(r.reason, r.event_id) for r in expired.refused] == [
        ("disbursement_exceeds_arrived", "pay-x")
    ]
    assert "held 600 s" in expired.refused[0].message
    assert await pool.fetchval("SELECT count(*) FROM ledger.pending") == 0
    row = await pool.fetchrow("SELECT source_topic, raw FROM ledger.rejections")
    assert json.loads(row["raw"])["event_id"] == "pay-x"


async def test_a_chain_of_early_events_is_released_in_order(pool: asyncpg.Pool) -> None:
    def proc(event_type: str, event_id: str, **data: str) -> InboundRecord:
        return record(event_type, data, event_id, topic="procurement.events")

    contract = proc(
        "ContractAwarded", "k1", procurement_id="P1", contract_id="K1", supplier="s", amount="9.00"
    )
    plan = proc(
        "ProcurementPlanned",
        "p1",
        procurement_id="P1",
        line_id="L1",
        amount="10.00",
        method="inquiry",
    )
    await ingest_batch(PostgresLedgerStore(pool), [contract], TOPICS, HOLD, T0)
    await ingest_batch(PostgresLedgerStore(pool), [plan], TOPICS, HOLD, T0)
    assert await accepted_ids(pool) == []
    # the line releases the plan, whose stream this batch never touched releases the contract
    await ingest_batch(PostgresLedgerStore(pool), [authorise(event_id="a1")], TOPICS, HOLD, T0)
    assert [e for _, e in await journal(pool)] == ["a1", "p1", "k1"]


async def test_a_rejection_is_resolved_when_its_correction_is_accepted(pool: asyncpg.Pool) -> None:
    good = authorise("10.00", event_id="auth-1")
    body = json.loads(good.value)
    await ingest_batch(
        PostgresLedgerStore(pool),
        [
            InboundRecord(good.topic, 0, 900, json.dumps({**body, "fiscal_year": 1900}).encode()),
            good,
            InboundRecord(
                good.topic, 0, 901, json.dumps({**body, "source": "other"}).encode()
            ),  # same id, other content
        ],
        TOPICS,
    )
    rows = await pool.fetch(
        "SELECT reason, resolved_position FROM ledger.rejections ORDER BY rejection_id"
    )
    position = await pool.fetchval("SELECT position FROM ledger.events WHERE event_id = 'auth-1'")
    assert [(r["reason"], r["resolved_position"]) for r in rows] == [
        ("invalid_field", position),
        ("duplicate_event_id_conflict", None),
    ]
