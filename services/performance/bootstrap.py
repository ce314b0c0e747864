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
from services.performance.app import subscribe
from services.performance.settings import PerformanceSettings
from services.performance.store import PostgresProjections

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass
class Resources:
    """What the service opens at startup and closes at shutdown."""

    pool: asyncpg.Pool


async def connect(settings: PerformanceSettings) -> Resources:
    """The database pool, the schema migrated first."""
    await migrate(settings.database_url, MIGRATIONS)
    return Resources(await create_pool(settings.database_url))


async def disconnect(resources: Resources) -> None:
    await resources.pool.close()


class _Running:
    """Set at startup; the subscriber, declared before, reaches the store through it."""

    resources: Resources
    store: PostgresProjections


def build_app(settings: PerformanceSettings) -> FastStream:
    # per-batch "Received"/"Processed" lines only at DEBUG
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers, client_id="performance", log_level=logging.DEBUG
    )
    running = _Running()
    subscribe(broker, settings, lambda: running.store)
    app = FastStream(broker)

    @app.on_startup
    async def open_resources() -> None:
        running.resources = await connect(settings)
        running.store = PostgresProjections(running.resources.pool)

    @app.after_shutdown
    async def close_resources() -> None:  # after the broker stopped: no batch is in flight
        await disconnect(running.resources)

    return app


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s performance %(levelname)s %(message)s"
    )
    asyncio.run(build_app(PerformanceSettings()).run())


if __name__ == "__main__":
    main()
