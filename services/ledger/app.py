"""The ledger's transport handlers: inbound records from Kafka, judged and appended in batches
(ingest.py); and the loop that rejects held records whose hold ran out. What they run on is
wired by bootstrap.py."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from services.common.kafka import FailingBatch, headers_dropped, undecoded
from services.ledger import observe
from services.ledger.ingest import ingest_batch
from services.ledger.ports import LedgerStore
from services.ledger.records import InboundRecord
from services.ledger.settings import LedgerSettings

log = logging.getLogger("ledger")


def subscribe(
    broker: KafkaBroker,
    settings: LedgerSettings,
    store: Callable[[], LedgerStore],
    failing: FailingBatch,
) -> BatchSubscriber:
    """Consume the inbound topics in batches, into the store (opened when the app starts);
    a batch that fails (its transaction rolled back) is consumed again, and ``failing``
    knows while one does."""
    topic_groups, hold = _inbound(settings)
    subscriber = broker.subscriber(
        *topic_groups,
        batch=True,
        group_id=settings.ledger_group_id,
        auto_offset_reset="earliest",
        max_records=settings.ledger_batch_size,
        # Kafka offsets are committed only after the batch's transaction committed;
        # a failed batch is sought back and redelivered (event_id makes that a no-op).
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,
        parser=headers_dropped,
        description="Upstream events (docs/contract.md sections 2-3), validated and appended",
    )

    @subscriber
    async def on_inbound_events(message: KafkaMessage) -> None:
        records = [
            InboundRecord(r.topic, r.partition, r.offset, r.value)
            for r in message.raw_message  # type: ignore[union-attr]
        ]
        started = time.perf_counter()
        first = records[0]  # a batch has a record at least
        with failing.watching(f"{first.topic}[{first.partition}] offset {first.offset}"):
            decision = await ingest_batch(store(), records, topic_groups, hold)
        observe.batch_done(len(records), time.perf_counter() - started)
        observe.decided(decision, records)
        log.debug(
            "batch of %d: %d accepted, %d rejected, %d held, %d duplicates, %d redelivered",
            len(records),
            len(decision.accepted),
            len(decision.refused),
            len(decision.held),
            decision.duplicates,
            decision.redelivered,
        )

    return subscriber


async def expire_held(store: LedgerStore, settings: LedgerSettings) -> None:
    """Reject held records whose hold ran out while no batch came to release them (until
    cancelled; a failure, e.g. the database away, is logged and tried again)."""
    topic_groups, hold = _inbound(settings)
    while True:
        await asyncio.sleep(max(1.0, min(hold.total_seconds() / 10, 30.0)))
        try:
            if await store.has_expired(datetime.now(UTC) - hold):
                decision = await ingest_batch(store, [], topic_groups, hold)
                observe.decided(decision, [])
                log.info("hold expired: %d rejected", len(decision.refused))
        except Exception:
            log.exception("the expiry of held records failed; trying again")


def _inbound(settings: LedgerSettings) -> tuple[dict[str, str], timedelta]:
    """The inbound topics (each with its group of event types) and how long a record is held."""
    return settings.topics.inbound(), timedelta(seconds=settings.ledger_hold_seconds)
