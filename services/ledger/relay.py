"""The outbox relays: publish stored journal entries and rejections to Kafka, in order.

Only one ledger instance relays at a time (a PostgreSQL session advisory lock elects
it). A relay reads rows past its cursor, publishes them, waits for the broker's
acknowledgements and only then moves its cursor: publication is at least once, and
consumers apply each journal position once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

log = logging.getLogger("ledger.relay")

JOURNAL_ROWS = """
SELECT position AS cursor, department AS key,
       json_build_object('position', position, 'stream_id', stream_id,
                         'stream_version', stream_version, 'recorded_at', recorded_at,
                         'event', payload, 'context', context)::text AS value
FROM ledger.events WHERE position > $1 ORDER BY position LIMIT $2
"""

REJECTION_ROWS = """
SELECT rejection_id AS cursor, department AS key,
       json_build_object('rejection_id', rejection_id, 'reason', reason, 'field', field,
                         'message', message, 'source_topic', source_topic,
                         'source_partition', source_partition, 'source_offset', source_offset,
                         'received_at', received_at, 'event_id', event_id,
                         'department', department,
                         'original_b64', translate(encode(raw, 'base64'), E'\\n', '')
                        )::text AS value
FROM ledger.rejections WHERE rejection_id > $1 ORDER BY rejection_id LIMIT $2
"""


@dataclass
class Relay:
    name: str
    rows_sql: str
    topic: str
    batch_size: int = 5000

    async def publish_pending(self, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> int:
        async with pool.acquire() as conn:
            cursor = await conn.fetchval(
                "SELECT position FROM ledger.relay_cursors WHERE name = $1", self.name
            )
            rows = await conn.fetch(self.rows_sql, cursor or 0, self.batch_size)
        if not rows:
            return 0
        pending = [
            await producer.send(
                self.topic,
                key=row["key"].encode() if row["key"] else None,
                value=row["value"].encode(),
            )
            for row in rows
        ]
        await asyncio.gather(*pending)
        async with pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO ledger.relay_cursors (name, position) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET position = excluded.position
                """,
                self.name,
                rows[-1]["cursor"],
            )
        return len(rows)


async def run_relays(
    dsn: str, pool: asyncpg.Pool, producer: AIOKafkaProducer, relays: list[Relay]
) -> None:
    """Relay forever (until cancelled) while holding the relay leadership."""
    leader = await asyncpg.connect(dsn)
    try:
        while not await leader.fetchval("SELECT pg_try_advisory_lock(hashtext('ledger.relay'))"):
            await asyncio.sleep(1.0)  # another ledger instance relays; take over if it dies
        log.info("relay leadership acquired")
        woken = asyncio.Event()
        await leader.add_listener("ledger_appended", lambda *_: woken.set())
        while True:
            woken.clear()
            try:
                published = 0
                for relay in relays:
                    published += await relay.publish_pending(pool, producer)
            except Exception:  # broker or database hiccup: retry from the stored cursor
                log.exception("relay failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if not published:
                try:
                    await asyncio.wait_for(woken.wait(), timeout=1.0)
                except TimeoutError:
                    pass
    finally:
        await leader.close()
