"""Entry point of the ledger service: ``python -m services.ledger``.

Consumes the inbound topics in batches, validates and appends (ingest.py), and relays
the journal and rejections to Kafka (relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.common.db import create_pool, migrate
from services.common.kafka import undecoded
from services.ledger import store
from services.ledger.ingest import InboundRecord, ingest_batch
from services.ledger.relay import JOURNAL_ROWS, REJECTION_ROWS, Relay, run_relays
from services.ledger.settings import LedgerSettings

log = logging.getLogger("ledger")


class Runtime:
    """What the service opens at startup and closes at shutdown."""

    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    tasks: list[asyncio.Task[None]]


def build_app(settings: LedgerSettings) -> FastStream:
    # per-batch "Received"/"Processed" lines only at DEBUG
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers, client_id="ledger", log_level=logging.DEBUG
    )
    topic_groups = settings.topics.inbound()
    hold = timedelta(seconds=settings.ledger_hold_seconds)
    runtime = Runtime()

    @broker.subscriber(
        *topic_groups,
        batch=True,
        group_id=settings.ledger_group_id,
        auto_offset_reset="earliest",
        max_records=settings.ledger_batch_size,
        # Kafka offsets are committed only after the batch's transaction committed;
        # a failed batch is sought back and redelivered (event_id makes that a no-op).
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,
        description="Upstream events (CONTRACT.md sections 2-3), validated and appended",
    )
    async def on_inbound_events(message: KafkaMessage) -> None:
        records = [
            InboundRecord(r.topic, r.partition, r.offset, r.value)
            for r in message.raw_message  # type: ignore[union-attr]
        ]
        decision = await ingest_batch(runtime.pool, records, topic_groups, hold)
        log.debug(
            "batch of %d: %d accepted, %d rejected, %d held, %d duplicates, %d redelivered",
            len(records),
            len(decision.accepted),
            len(decision.refused),
            len(decision.held),
            decision.duplicates,
            decision.redelivered,
        )

    async def expire_held() -> None:
        """Reject held records whose hold ran out while no batch came to release them."""
        while True:
            await asyncio.sleep(max(1.0, min(hold.total_seconds() / 10, 30.0)))
            if await store.has_expired(runtime.pool, datetime.now(UTC) - hold):
                decision = await ingest_batch(runtime.pool, [], topic_groups, hold)
                log.info("hold expired: %d rejected", len(decision.refused))

    app = FastStream(broker)

    @app.on_startup
    async def open_resources() -> None:
        runtime.pool = await create_pool(settings.database_url)
        await migrate(runtime.pool, Path(__file__).with_name("schema.sql"))
        runtime.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id="ledger-relay",
            acks="all",
            linger_ms=5,
        )
        await runtime.producer.start()
        relays = [
            Relay("journal", JOURNAL_ROWS, settings.topics.ledger_journal, "position"),
            Relay("rejected", REJECTION_ROWS, settings.topics.ledger_rejected, "rejection_id"),
        ]
        runtime.tasks = [
            asyncio.create_task(
                run_relays(
                    settings.database_url,
                    runtime.pool,
                    runtime.producer,
                    relays,
                    settings.kafka_bootstrap_servers,
                    settings.ledger_topic_check_seconds,
                )
            ),
            asyncio.create_task(expire_held()),
        ]

    @app.on_shutdown
    async def stop_background_tasks() -> None:
        for task in runtime.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @app.after_shutdown
    async def close_resources() -> None:  # after the broker stopped: no batch is in flight
        await runtime.producer.stop()
        await runtime.pool.close()

    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s ledger %(levelname)s %(message)s")
    # the relay's periodic topic checks assign partitions; one INFO line each is noise
    logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.WARNING)
    asyncio.run(build_app(LedgerSettings()).run())


if __name__ == "__main__":
    main()
