"""Appends lock departments, not the ledger (services/ledger/store/batch.py), and the relays
follow the commit order (services/ledger/store/relay.py), against a real PostgreSQL: a batch
of one department does not wait for an open batch of another; one of the same department
does; a batch that releases another department's held record waits for that department;
and the relay's readers hold back what a later transaction committed while an earlier one
is open, then give everything, skipping nothing, and the relay publishes it to a real broker
in each department's order, on the department's partition."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from deploy.infra import read_records
from services.common.event_store import START, Cursor, journal_past
from services.ledger.ingest import ingest_batch
from services.ledger.records import Decision, InboundRecord
from services.ledger.relay import Relay, journal_messages, rejection_messages
from services.ledger.store import PostgresBatch, PostgresLedgerStore
from services.ledger.store.rejections import rejections_past
from services.ledger.store.relay import (
    cursor_at,
    outbox_lag,
    read_cursor,
    republish_after,
)
from tests.conftest import KafkaTarget
from tests.integration.conftest import LEDGER_MIGRATIONS, migrated_pool
from tests.unit.test_ledger_rules import TOPICS, record

pytestmark = pytest.mark.integration

WAIT = 10.0  # seconds a batch that must not wait is given (it takes milliseconds)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(database, LEDGER_MIGRATIONS) as pool:
        yield pool


class Paused(PostgresLedgerStore):
    """A store whose batches, once they have written their decision, keep their transaction
    open (locks held, rows uncommitted) until ``go`` is set."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.written, self.go = asyncio.Event(), asyncio.Event()

    @asynccontextmanager
    async def batch(self, departments: Iterable[str]) -> AsyncIterator[PostgresBatch]:
        async with super().batch(departments) as batch:
            yield batch
            self.written.set()
            await self.go.wait()


@asynccontextmanager
async def held_open(
    pool: asyncpg.Pool,
    *records: InboundRecord,
    hold: timedelta = timedelta(0),
    now: datetime | None = None,
) -> AsyncIterator[tuple[Paused, asyncio.Task[Decision]]]:
    """A batch of these records, written and left open (until ``go`` is set, at the latest
    on leaving); the store and the batch's task."""
    store = Paused(pool)
    task = asyncio.create_task(ingest_batch(store, records, TOPICS, hold, now))
    try:
        await asyncio.wait_for(store.written.wait(), WAIT)
        yield store, task
    finally:
        store.go.set()
        await task


def line(department: str, line_id: str) -> InboundRecord:
    data = {"line_id": line_id, "title": "t", "category": "project", "amount": "1000.00"}
    return record("BudgetAuthorised", data, f"{line_id}-authorised", department)


def refused(department: str, event_id: str) -> InboundRecord:
    """A record of the department that is rejected (money as a number)."""
    data = {"line_id": "L-any", "amount": 5, "economic_class": "302"}
    return record("Disbursed", data, event_id, department)


async def stored(pool: asyncpg.Pool) -> dict[str, tuple[int, int]]:
    """event_id -> (tx, position) of every stored event."""
    rows = await pool.fetch("SELECT event_id, tx, position FROM ledger.events")
    return {r["event_id"]: (int(r["tx"]), r["position"]) for r in rows}


async def waiting_for_a_lock(pool: asyncpg.Pool) -> int:
    """Sessions of this database waiting for an advisory lock."""
    return int(
        await pool.fetchval(
            """SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
               WHERE l.locktype = 'advisory' AND NOT l.granted
                 AND a.datname = current_database()"""
        )
    )


async def test_batches_of_two_departments_append_side_by_side(pool: asyncpg.Pool) -> None:
    async with held_open(pool, line("DA", "LA")) as (first, task):
        # DA's transaction is open, its event written: a batch of DB neither waits for it
        # (the one append lock made it wait until DA committed) nor sees it
        other = await asyncio.wait_for(
            ingest_batch(PostgresLedgerStore(pool), [line("DB", "LB")], TOPICS), WAIT
        )
        assert [a.event.event_id for a in other.accepted] == ["LB-authorised"]
        assert list(await stored(pool)) == ["LB-authorised"]
        first.go.set()
        assert [a.event.event_id for a in (await task).accepted] == ["LA-authorised"]
    rows = await stored(pool)
    # DA drew the smaller position and the smaller xid, and committed last
    assert rows["LA-authorised"] < rows["LB-authorised"]
    assert rows["LA-authorised"][1] < rows["LB-authorised"][1]


async def test_batches_of_one_department_still_run_one_after_the_other(
    pool: asyncpg.Pool,
) -> None:
    async with held_open(pool, line("DA", "LA")):
        second = asyncio.create_task(
            ingest_batch(PostgresLedgerStore(pool), [line("DA", "LA2")], TOPICS)
        )
        await asyncio.sleep(1.0)
        assert not second.done()  # it waits for DA's lock
        assert await waiting_for_a_lock(pool) == 1
    decision = await asyncio.wait_for(second, WAIT)
    assert [a.event.event_id for a in decision.accepted] == ["LA2-authorised"]
    rows = await stored(pool)
    # the later batch drew its xid once it held the lock: both orders agree with commits
    assert rows["LA-authorised"][0] < rows["LA2-authorised"][0]
    assert rows["LA-authorised"][1] < rows["LA2-authorised"][1]


def lock_key_order(keys: dict[str, int], below: bool) -> tuple[str, str]:
    """(the held record's department, the releasing batch's department) among these, the
    first's lock key below the second's (or above)."""
    names = sorted(keys, key=keys.__getitem__)
    return (names[0], names[-1]) if below else (names[-1], names[0])


@pytest.mark.parametrize("held_key_below", [True, False], ids=["tried-then-rerun", "waited"])
async def test_a_batch_releasing_another_departments_held_record_waits_for_it(
    pool: asyncpg.Pool, held_key_below: bool
) -> None:
    keys = {
        name: await pool.fetchval("SELECT hashtext('ledger.append:' || $1)", name)
        for name in ("DA", "DB", "DC", "DD")
    }
    holder, releaser = lock_key_order(keys, held_key_below)
    hold, t0 = timedelta(minutes=10), datetime(2017, 5, 1, 2, 0, tzinfo=UTC)
    store = PostgresLedgerStore(pool)
    # a payment of ``holder`` on a line nobody authorised yet: held, waiting for line:LX
    early = record("Disbursed", {"line_id": "LX", "amount": "1.00", "economic_class": "302"},
                   "pay-early", holder)  # fmt: skip
    assert len((await ingest_batch(store, [early], TOPICS, hold, t0)).held) == 1

    async with held_open(pool, line(holder, "L-other"), hold=hold, now=t0):  # its lock taken
        # ``releaser`` authorises LX: its batch loads the held record of ``holder``, and so
        # needs ``holder``'s lock before it may judge it
        releasing = asyncio.create_task(
            ingest_batch(store, [line(releaser, "LX")], TOPICS, hold, t0)
        )
        await asyncio.sleep(1.0)
        assert not releasing.done()
    decision: Decision = await asyncio.wait_for(releasing, WAIT)
    assert [a.event.event_id for a in decision.accepted] == ["LX-authorised"]
    assert [(r.event_id, r.reason) for r in decision.refused] == [
        ("pay-early", "line_department_mismatch")  # LX is the releaser's line
    ]
    assert await pool.fetchval("SELECT count(*) FROM ledger.pending") == 0
    assert await pool.fetchval("SELECT count(*) FROM ledger.rejections") == 1


@pytest.fixture
async def producer(kafka: KafkaTarget) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def published(
    kafka: KafkaTarget, topic: str, at_least: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """(partition, key, message) of every record on the topic, each partition's in order."""
    records = await read_records(kafka.bootstrap, topic, at_least)
    return [(r.partition, r.key.decode(), json.loads(r.value)) for r in records]


async def test_the_relay_waits_for_an_earlier_transaction_and_skips_nothing(
    pool: asyncpg.Pool, kafka: KafkaTarget, producer: AIOKafkaProducer
) -> None:
    topics = kafka.topics
    relays = [
        Relay("journal", journal_messages, topics.ledger_journal, "position"),
        Relay("rejected", rejection_messages, topics.ledger_rejected, "rejection_id"),
    ]

    async def publish() -> int:
        return sum([await r.publish_pending(pool, producer) for r in relays])

    # DA draws its xid and positions first, and stays open; DB commits after it
    opened = held_open(pool, line("DA", "LA"), line("DA", "LA2"), refused("DA", "r1"))
    async with opened:
        later = [line("DB", "LB"), refused("DB", "r2")]
        await asyncio.wait_for(ingest_batch(PostgresLedgerStore(pool), later, TOPICS), WAIT)
        async with pool.acquire() as conn:
            # DB's rows are committed, but an older transaction is open: nothing may go yet
            # ("position > cursor" would publish DB's, then skip DA's smaller positions)
            assert await journal_past(conn, START, 100) == []
            assert await rejections_past(conn, START, 100) == []
            assert await outbox_lag(conn) == {"journal": 1, "rejected": 1}
        assert await publish() == 0
    assert await publish() == 5
    journal = await published(kafka, topics.ledger_journal, 3)
    by_department = {
        k: [m["event"]["event_id"] for _, key, m in journal if key == k] for k in ("DA", "DB")
    }
    assert by_department == {"DA": ["LA-authorised", "LA2-authorised"], "DB": ["LB-authorised"]}
    rejected = await published(kafka, topics.ledger_rejected, 2)
    assert sorted(m["event_id"] for _, _, m in rejected) == ["r1", "r2"]
    # each key on the partition a plain send of it goes to (consumers rely on it for order)
    for department in ("DA", "DB"):
        sent = await producer.send_and_wait(topics.ledger_journal, b"{}", key=department.encode())
        assert {p for p, key, _ in journal if key == department} == {sent.partition}
    rows = await stored(pool)
    assert rows["LA2-authorised"][1] < rows["LB-authorised"][1]  # DA drew smaller positions
    async with pool.acquire() as conn:
        assert await read_cursor(conn, "journal") == Cursor(*rows["LB-authorised"])
        assert await outbox_lag(conn) == {"journal": 0, "rejected": 0}
        assert await cursor_at(conn, "journal", rows["LA-authorised"][1]) == Cursor(
            *rows["LA-authorised"]
        )
        assert await cursor_at(conn, "journal", 0) == START
        assert await cursor_at(conn, "journal", 10_000) is None
    assert await publish() == 0

    # republishing after DA's first position goes back to DA's transaction: both of DA's
    # events (the first one again, which consumers skip) and DB's
    assert await republish_after(pool, "journal", rows["LA-authorised"][1]) == Cursor(
        rows["LA-authorised"][0], 0
    )
    assert await publish() == 3
    again = [
        (key, m["event"]["event_id"])
        for _, key, m in await published(kafka, topics.ledger_journal, 8)
        if m
    ]
    assert again.count(("DA", "LA-authorised")) == 2 and again.count(("DB", "LB-authorised")) == 2
    # never forward: past the last position there is nothing to publish again
    assert await republish_after(pool, "journal", 10_000) == Cursor(*rows["LB-authorised"])
    assert await publish() == 0
