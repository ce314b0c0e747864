"""The performance service's transport handler: ``ledger.journal`` consumed in batches, each
record parsed as a typed ``JournalEntry`` and the batch applied to the projections
(handler.py). What it runs on is wired by bootstrap.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast
from zoneinfo import ZoneInfo

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from schemas.messages import JournalEntry
from services.common.event_store import collector_paused
from services.common.kafka import FailingBatch, undecoded
from services.performance.handler import ProjectionStore, apply_entries
from services.performance.settings import PerformanceSettings

log = logging.getLogger("performance")


def subscribe(
    broker: KafkaBroker,
    settings: PerformanceSettings,
    store: Callable[[], ProjectionStore],
    failing: FailingBatch,
) -> BatchSubscriber:
    """Consume the journal in batches, into the store (opened when the app starts); a batch
    that fails is consumed again, and ``failing`` knows while one does."""
    timezone = ZoneInfo(settings.timezone)
    subscriber = broker.subscriber(
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

    @subscriber
    async def on_ledger_journal(message: KafkaMessage) -> None:
        records = cast(tuple[ConsumerRecord[bytes, bytes], ...], message.raw_message)  # a batch
        # the batch's entries and their fold are in no reference cycle: Python's collector
        # waits until they are freed (see collector_paused)
        first = records[0]  # a batch has a record at least
        where = f"{first.topic}[{first.partition}] offset {first.offset}"
        with collector_paused(), failing.watching(where):
            try:
                entries = [JournalEntry.model_validate_json(r.value) for r in records]
                applied = await apply_entries(store(), entries, timezone)
            except Exception:
                log.exception(
                    "projection of %d journal records failed (the batch is consumed again)",
                    len(records),
                    extra={"topic": first.topic, "partition": first.partition,
                           "offset": first.offset, "last_offset": records[-1].offset},
                )  # fmt: skip
                raise
            del entries
        log.debug("batch of %d journal entries, %d new", len(records), applied)

    return subscriber
