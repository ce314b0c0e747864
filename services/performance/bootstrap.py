"""The performance service's wiring, ``python -m services.performance``: what it connects to
(its database, migrated at startup) and what it consumes (the journal, app.py, applied to
the projections in PostgreSQL, store.py)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.common.db import create_pool, migrate
from services.common.kafka import broker_security, consumer_app
from services.performance.app import subscribe
from services.performance.settings import PerformanceSettings
from services.performance.store import PostgresProjections

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass
class Resources:
    """What the service opens at startup and closes at shutdown."""

    pool: asyncpg.Pool
    store: PostgresProjections


async def connect(settings: PerformanceSettings) -> Resources:
    """The database pool, the schema migrated first."""
    await migrate(settings.database_url, MIGRATIONS)
    pool = await create_pool(settings.database_url)
    return Resources(pool, PostgresProjections(pool))


async def disconnect(resources: Resources) -> None:
    await resources.pool.close()


def build_app(settings: PerformanceSettings) -> FastStream:
    # per-batch "Received"/"Processed" lines only at DEBUG
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id="performance",
        log_level=logging.DEBUG,
        security=broker_security(settings),
    )
    app, opened = consumer_app(broker, lambda: connect(settings), disconnect)
    subscribe(broker, settings, lambda: opened().store)
    return app


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s performance %(levelname)s %(message)s"
    )
    asyncio.run(build_app(PerformanceSettings()).run())


if __name__ == "__main__":
    main()
