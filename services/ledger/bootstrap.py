"""The ledger service's wiring, ``python -m services.ledger``: what it connects to (its
database, migrated at startup, and a Kafka producer for the relays), what it consumes (the
inbound topics, app.py), what it runs beside (the journal and rejection relays, relay.py,
the hold expiry, the refresh of its lag gauges, observe.py) and what it serves on
LEDGER_HTTP_PORT (/healthz, /readyz, /metrics: services/common/probes.py)."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream import FastStream

from services.common import probes
from services.common.db import create_pool, migrate
from services.common.environment import from_environment
from services.common.kafka import (
    cancel_tasks,
    client_options,
    consumer_app,
)
from services.common.logs import setup_logging
from services.common.metrics import GroupWatch, refresh_every
from services.ledger.app import expire_held, subscribe
from services.ledger.observe import refresh_outbox_lag
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
    watch: GroupWatch  # the consumer group's lag, and whether the broker answers
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
        # a relay's batch of a partition (relay.send_batches): 256 KiB, a quarter of the
        # broker's default message.max.bytes; 16 KiB batches held about 25 entries each
        max_batch_size=256 * 1024,
        **client_options(settings),
    )
    await producer.start()
    watch = GroupWatch(settings, settings.ledger_group_id, list(settings.topics.inbound()))
    return Resources(pool, producer, PostgresLedgerStore(pool), watch)


def start_tasks(settings: LedgerSettings, resources: Resources) -> None:
    """The background tasks: the relays (while this instance leads), the hold expiry and
    the refresh of the lag gauges (consumer lag, outbox lag)."""
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
        asyncio.create_task(
            refresh_every(
                settings.metrics_refresh_seconds,
                {
                    "kafka_consumer_lag": resources.watch.refresh,
                    "ledger_outbox_lag": lambda: refresh_outbox_lag(resources.pool),
                },
            )
        ),
    ]


async def disconnect(resources: Resources) -> None:
    await cancel_tasks(resources.tasks)
    resources.tasks = []
    await resources.watch.close()
    await resources.producer.stop()
    await resources.pool.close()


async def start(settings: LedgerSettings) -> Resources:
    """Connected, and the background tasks running."""
    resources = await connect(settings)
    start_tasks(settings, resources)
    return resources


def build_app(settings: LedgerSettings, sock: socket.socket) -> FastStream:
    """The app; ``sock``: where it serves /healthz, /readyz and /metrics."""
    return consumer_app(
        "ledger",
        settings,
        MIGRATIONS,
        lambda broker, opened, failing: subscribe(
            broker, settings, lambda: opened().store, failing
        ),
        lambda: start(settings),
        disconnect,
        sock,
    )


def main() -> None:
    settings = from_environment(LedgerSettings)
    setup_logging("ledger", settings.log_format)
    # the relay's periodic topic checks assign partitions; one INFO line each is noise
    logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.WARNING)
    sock = probes.listen(settings.http_host, settings.ledger_http_port, "LEDGER_HTTP_PORT")
    asyncio.run(build_app(settings, sock).run())


if __name__ == "__main__":
    main()
