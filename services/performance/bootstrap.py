"""The performance service's wiring, ``python -m services.performance``: what it connects to
(its database, migrated at startup), what it consumes (the journal, app.py, applied to the
projections in PostgreSQL, store.py), what it runs beside (the refresh of its lag gauges,
observe.py) and what it serves on PERFORMANCE_HTTP_PORT (/healthz, /readyz, /metrics:
services/common/probes.py)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from faststream import FastStream

from services.common import probes
from services.common.db import create_pool, migrate
from services.common.environment import from_environment
from services.common.kafka import (
    cancel_tasks,
    consumer_app,
)
from services.common.logs import setup_logging
from services.common.metrics import GroupWatch, refresh_every
from services.performance.app import subscribe
from services.performance.observe import refresh_projection_lag
from services.performance.settings import PerformanceSettings
from services.performance.store import PostgresProjections

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass
class Resources:
    """What the service opens at startup and closes at shutdown."""

    pool: asyncpg.Pool
    store: PostgresProjections
    watch: GroupWatch  # the consumer group's lag, and whether the broker answers
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def connect(settings: PerformanceSettings) -> Resources:
    """The database pool, the schema migrated first (the group's watch connects when the
    service first uses it)."""
    await migrate(settings.database_url, MIGRATIONS)
    pool = await create_pool(settings.database_url)
    watch = GroupWatch(settings, settings.performance_group_id, [settings.topics.ledger_journal])
    return Resources(pool, PostgresProjections(pool), watch)


async def disconnect(resources: Resources) -> None:
    await cancel_tasks(resources.tasks)
    resources.tasks = []
    await resources.watch.close()
    await resources.pool.close()


async def start(settings: PerformanceSettings) -> Resources:
    """Connected, and the lag gauges (consumer lag, projection lag) refreshed."""
    resources = await connect(settings)
    refreshers = {
        "kafka_consumer_lag": resources.watch.refresh,
        "performance_projection_lag": lambda: refresh_projection_lag(resources.pool),
    }
    resources.tasks = [
        asyncio.create_task(refresh_every(settings.metrics_refresh_seconds, refreshers))
    ]
    return resources


def build_app(settings: PerformanceSettings, sock: socket.socket) -> FastStream:
    """The app; ``sock``: where it serves /healthz, /readyz and /metrics."""
    return consumer_app(
        "performance",
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
    settings = from_environment(PerformanceSettings)
    setup_logging("performance", settings.log_format)
    port = settings.performance_http_port
    sock = probes.listen(settings.http_host, port, "PERFORMANCE_HTTP_PORT")
    asyncio.run(build_app(settings, sock).run())


if __name__ == "__main__":
    main()
