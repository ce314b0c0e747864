"""The ledger service's wiring, ``python -m services.ledger``: what it connects to (its
database, migrated at startup, and a Kafka producer for the relays), what it consumes (the
inbound topics, app.py) and what it runs beside (the journal and rejection relays, relay.py,
and the hold expiry)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.common.db import create_pool, migrate
from services.common.kafka import broker_security, client_options, consumer_app
from services.ledger.app import expire_held, subscribe
from services.ledger.relay import Relay, journal_messages, rejection_messages, run_relays
from services.ledger.settings import LedgerSettings
from services.ledger.store import PostgresLedgerStore

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass
class Resources:
    """What the service opens at startup and closes at shutdown."""

    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    store: PostgresLedgerStore
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def connect(settings: LedgerSettings) -> Resources:
    """The database pool (the schema migrated first) and the relays' producer, started."""
    pool = await create_pool(settings.database_url)
    await migrate(settings.database_url, MIGRATIONS)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="ledger-relay",
        acks="all",
        linger_ms=5,
        **client_options(settings),
    )
    await producer.start()
    return Resources(pool, producer, PostgresLedgerStore(pool))


def start_tasks(settings: LedgerSettings, resources: Resources) -> None:
    """The background tasks: the relays (while this instance leads) and the hold expiry."""
    relays = [
        Relay("journal", journal_messages, settings.topics.ledger_journal, "position"),
        Relay("rejected", rejection_messages, settings.topics.ledger_rejected, "rejection_id"),
    ]
    resources.tasks = [
        asyncio.create_task(
            run_relays(
                settings.database_url,
                resources.pool,
                resources.producer,
                relays,
                settings,
                settings.ledger_topic_check_seconds,
            )
        ),
        asyncio.create_task(expire_held(resources.store, settings)),
    ]


async def stop_tasks(resources: Resources) -> None:
    for task in resources.tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    resources.tasks = []


async def disconnect(resources: Resources) -> None:
    await stop_tasks(resources)
    await resources.producer.stop()
    await resources.pool.close()


async def start(settings: LedgerSettings) -> Resources:
    """Connected, and the background tasks running."""
    resources = await connect(settings)
    start_tasks(settings, resources)
    return resources


def build_app(settings: LedgerSettings) -> FastStream:
    # per-batch "Received"/"Processed" lines only at DEBUG
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id="ledger",
        log_level=logging.DEBUG,
        security=broker_security(settings),
    )
    app, opened = consumer_app(broker, lambda: start(settings), disconnect)
    subscribe(broker, settings, lambda: opened().store)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s ledger %(levelname)s %(message)s")
    # the relay's periodic topic checks assign partitions; one INFO line each is noise
    logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.WARNING)
    asyncio.run(build_app(LedgerSettings()).run())


if __name__ == "__main__":
    main()
