"""Entry point of the performance service: ``python -m services.performance``.

Consumes ``ledger.journal`` in batches and folds it into the projections the
reporting gateway reads (projector.py, store.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.common.db import create_pool, migrate
from services.common.kafka import undecoded
from services.performance.settings import PerformanceSettings
from services.performance.store import apply_entries

log = logging.getLogger("performance")


class Runtime:
    """What the service opens at startup and closes at shutdown."""

    pool: asyncpg.Pool


def build_app(settings: PerformanceSettings) -> FastStream:
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers, client_id="performance", log_level=logging.DEBUG
    )
    timezone = ZoneInfo(settings.timezone)
    runtime = Runtime()

    @broker.subscriber(
        settings.topics.ledger_journal,
        batch=True,
        group_id=settings.performance_group_id,
        auto_offset_reset="earliest",
        max_records=settings.performance_batch_size,
        # the applied positions stored with the projections decide what is new;
        # Kafka offsets are only a hint of where to resume
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,
        description="Accepted events in ledger order, projected for evaluation",
    )
    async def on_ledger_journal(message: KafkaMessage) -> None:
        entries = [json.loads(r.value) for r in message.raw_message]  # type: ignore[union-attr]
        applied = await apply_entries(runtime.pool, entries, timezone)
        log.debug("batch of %d journal entries, %d new", len(entries), applied)

    app = FastStream(broker)

    @app.on_startup
    async def open_resources() -> None:
        runtime.pool = await create_pool(settings.database_url)
        await migrate(runtime.pool, Path(__file__).with_name("schema.sql"))

    @app.after_shutdown
    async def close_resources() -> None:
        await runtime.pool.close()

    return app


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s performance %(levelname)s %(message)s"
    )
    asyncio.run(build_app(PerformanceSettings()).run())


if __name__ == "__main__":
    main()
