"""The outbox relays: publish stored journal entries and rejections to Kafka, in order.

Only one ledger instance relays at a time (a PostgreSQL session advisory lock elects
it). A relay reads rows past its cursor, publishes them, waits for the broker's
acknowledgements and only then moves its cursor: publication is at least once, and
consumers apply each journal position once.

"In order" is commit order, (tx, position), which within a department (a journal key) is
position order: ledger instances append different departments side by side, so a relay
reads only rows of transactions that have ended, past its cursor (store/relay.py). A row
therefore waits for every write transaction that started before it, on any database of the
server: a long one (a replay's) delays the relays while it runs; nothing is skipped.

The development broker keeps topics in memory only. When a topic holds less than the
cursor says was published (its partitions end at an earlier row, or are empty), the relay
moves its cursor back to the last row the topic holds and publishes again from there: at
startup, after a failure, and every ``check_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from services.common.event_store import START, Cursor, journal_past
from services.common.kafka import client_options
from services.common.settings import KafkaSettings
from services.ledger import observe
from services.ledger.store.rejections import rejections_past
from services.ledger.store.relay import (
    cursor_at,
    leader_name,
    listen_appended,
    move_cursor,
    read_cursor,
    try_lead,
)

log = logging.getLogger("ledger.relay")


@dataclass(frozen=True)
class Outgoing:
    """A message to publish, with the cursor value it moves the relay to once acknowledged."""

    cursor: Cursor
    key: str | None
    value: str


Reader = Callable[[asyncpg.Connection, Cursor, int], Awaitable[list[Outgoing]]]
"""(connection, cursor, limit): the next messages past the cursor, in commit order, of
transactions that have ended."""


async def journal_messages(conn: asyncpg.Connection, after: Cursor, limit: int) -> list[Outgoing]:
    """Journal entries (``JournalEntry``) past a cursor, keyed by department."""
    return [
        Outgoing(cursor, department, entry)
        for cursor, department, entry in await journal_past(conn, after, limit)
    ]


async def rejection_messages(conn: asyncpg.Connection, after: Cursor, limit: int) -> list[Outgoing]:
    """Rejections (``Rejection``) past a cursor, keyed by department (when known)."""
    return [
        Outgoing(cursor, rejection.department, rejection.model_dump_json())
        for cursor, rejection in await rejections_past(conn, after, limit)
    ]


@dataclass
class Relay:
    name: str
    read: Reader
    topic: str
    cursor_field: str  # the message field holding the cursor (position, rejection_id)
    batch_size: int = 5000

    async def publish_pending(self, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> int:
        async with pool.acquire() as conn:
            cursor = await read_cursor(conn, self.name)
            messages = await self.read(conn, cursor, self.batch_size)
        if not messages:
            observe.published(self.name)
            return 0
        await asyncio.gather(*await send_batches(producer, self.topic, messages))
        # compare-and-set: a rewind (re-publication) in the meantime wins
        await move_cursor(pool, self.name, messages[-1].cursor, expected=cursor)
        observe.published(self.name)
        return len(messages)

    async def rewind_if_lost(self, pool: asyncpg.Pool, kafka: KafkaSettings) -> None:
        """Move the cursor back to the last row the topic holds (in commit order: the
        latest of its partitions' last rows) when that is before the cursor."""
        ends = await last_published(kafka, self.topic, self.cursor_field)
        async with pool.acquire() as conn:
            cursor = await read_cursor(conn, self.name)
            # a position the store lacks (a topic older than a restored store) tells nothing
            held = [c for c in [await cursor_at(conn, self.name, p) for p in ends] if c is not None]
        published = max(held, default=START)
        if published < cursor:
            log.warning(
                "%s: topic %s ends at %d but %d was published (the broker lost data): "
                "publishing again from %d",
                self.name,
                self.topic,
                published.position,
                cursor.position,
                published.position,
                extra={"relay": self.name, "topic": self.topic, "cursor": cursor.position,
                       "cursor_tx": cursor.tx, self.cursor_field: published.position},
            )  # fmt: skip
            await move_cursor(pool, self.name, published, expected=cursor)


async def send_batches(
    producer: AIOKafkaProducer, topic: str, messages: list[Outgoing]
) -> list[asyncio.Future[Any]]:
    """Queue messages as record batches, a partition's in their order, each message on the
    partition aiokafka's default partitioner gives its key (what ``send`` chose; the relay's
    producer keeps that partitioner); return the batches' acknowledgements. One batch of
    many messages is a fraction of the work of sending each (a future, the accumulator's
    lookups and a pure-Python hash apiece): 3 µs a message against 40 (bench/README.md)."""
    partitions = sorted(await producer.partitions_for(topic))
    partition_of = functools.cache(lambda key: DefaultPartitioner()(key, partitions, partitions))
    by_partition: dict[int, list[tuple[bytes | None, bytes]]] = {}
    for message in messages:
        key = message.key.encode() if message.key else None
        by_partition.setdefault(partition_of(key), []).append((key, message.value.encode()))
    sent = []
    for partition, records in by_partition.items():
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                sent.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)  # a first always fits
        sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent


async def last_published(
    kafka: KafkaSettings, topic: str, cursor_field: str, read_timeout: float = 30.0
) -> list[int]:
    """The cursor field's value (position, rejection_id) of each non-empty partition's last
    record, reading only each partition's end.

    Seeks to just before the reported end and reads forward: a broker whose high watermark
    lags (Tansu reports the last batch's base offset + 1) still yields its real last record.
    A partition that reports records but yields none within ``read_timeout`` seconds raises
    ``TimeoutError`` (the relay retries) rather than passing for empty, which would make
    the relay publish everything again.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.kafka_bootstrap_servers,
        enable_auto_commit=False,
        **client_options(kafka),
    )
    await consumer.start()
    try:
        await consumer.topics()  # fetches the cluster's metadata
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        reading = [tp for tp in partitions if ends[tp] > 0]
        for tp in reading:
            consumer.seek(tp, ends[tp] - 1)
        unread = set(reading)  # a slow broker's empty answer is not an empty partition
        deadline = asyncio.get_running_loop().time() + read_timeout
        last: dict[TopicPartition, int] = {}
        while reading:
            batch = await consumer.getmany(*reading, timeout_ms=1000)
            if not batch:
                if not unread:
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{topic}: no record read from {sorted(unread)}")
                continue
            for tp, records in batch.items():
                unread.discard(tp)
                for record in records:  # in offset order: a partition's values need not grow
                    last[tp] = int(json.loads(record.value)[cursor_field])
        return list(last.values())
    finally:
        await consumer.stop()


async def run_relays(
    dsn: str,
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    relays: list[Relay],
    kafka: KafkaSettings,
    check_interval: float,
) -> None:
    """Relay forever (until cancelled) while holding the relay leadership; ``kafka``: where
    the topics are checked (the cluster ``producer`` publishes to). The leadership lives on
    a connection of its own (named ``ledger relay (pid N)`` in pg_stat_activity): when the
    database drops it (a restart), the lock is gone, so this instance stops relaying and
    stands for election again."""

    async def rewind() -> None:
        for relay in relays:
            await relay.rewind_if_lost(pool, kafka)

    async def publish() -> int:
        return sum([await relay.publish_pending(pool, producer) for relay in relays])

    while True:
        try:
            name = leader_name(os.getpid())
            leader = await asyncpg.connect(dsn, server_settings={"application_name": name})
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("relay: database unreachable; trying again", exc_info=True)
            await asyncio.sleep(1.0)
            continue
        try:
            while not await try_lead(leader):
                await asyncio.sleep(1.0)  # another ledger instance relays; take over if it dies
            log.info("relay leadership acquired")
            await _relay_while_leading(leader, rewind, publish, check_interval)
            log.warning("relay leadership lost (its database connection closed); electing again")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):  # the server went away
            log.warning("relay: database connection lost; electing again", exc_info=True)
            await asyncio.sleep(1.0)
        finally:
            await leader.close()


async def _relay_while_leading(
    leader: asyncpg.Connection,
    rewind: Callable[[], Awaitable[None]],
    publish: Callable[[], Awaitable[int]],
    check_interval: float,
) -> None:
    """Publish what is pending whenever the store says something was appended (or every
    second), and check the topics (``rewind``) every ``check_interval`` seconds and after a
    failure; until the leadership's connection closes."""
    woken = asyncio.Event()
    await listen_appended(leader, lambda *_: woken.set())
    loop = asyncio.get_running_loop()
    next_check = 0.0
    while not leader.is_closed():
        woken.clear()
        try:
            if loop.time() >= next_check:
                await rewind()
                next_check = loop.time() + check_interval
            published = await publish()
        except Exception:  # broker or database hiccup: check the topics, retry from the cursor
            log.exception("relay failed; retrying")
            next_check = 0.0
            await asyncio.sleep(1.0)
            continue
        if not published:
            try:
                await asyncio.wait_for(woken.wait(), timeout=1.0)
            except TimeoutError:
                pass
