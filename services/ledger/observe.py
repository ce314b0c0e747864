"""What the ledger tells its operators: Prometheus metrics of its verdicts, batches and
relays, and one log line per rejected or held record (with its event_id and department).

Counters move where things happen (``decided``, ``batch_done``, ``published``); the outbox
lag is asked of the database every METRICS_REFRESH_SECONDS (``refresh_outbox_lag``).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Sequence

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from services.ledger.records import Decision, InboundRecord
from services.ledger.store.relay import outbox_lag

log = logging.getLogger("ledger")
UNKNOWN = "unknown"  # the event type of a record that names none the contract knows

EVENTS = Counter(
    "ledger_events_total",
    "Inbound records decided, by outcome (accepted, rejected, held, duplicate) and event type; "
    "a held record counts again when it is accepted or rejected",
    ["outcome", "event_type"],
)
REJECTED = Counter(
    "ledger_rejected_total",
    "Records rejected, by reason code (docs/contract.md section C)",
    ["reason"],
)
BATCH_RECORDS = Histogram(
    "ledger_batch_records",
    "Records per inbound Kafka batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
)
BATCH_SECONDS = Histogram(
    "ledger_batch_decision_seconds",
    "Time to judge an inbound batch and append its verdicts (one transaction)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_LAG = Gauge(
    "ledger_outbox_lag",
    "Rows stored past the relay's cursor, not published yet (relay: journal, rejected)",
    ["relay"],
)
LAST_PUBLISH = Gauge(
    "ledger_relay_last_publish_timestamp_seconds",
    "Unix time the relay last published, or found nothing to publish (stalled while it "
    "stays put and the outbox lag is above 0)",
    ["relay"],
)


def decided(decision: Decision, records: Sequence[InboundRecord]) -> None:
    """Count a decision's verdicts and log its rejected and held records. ``records``: the
    batch's inbound records (a record held before and judged again is counted when it
    leaves the hold, not again while it waits)."""
    arrived = {record.coordinates for record in records} if decision.held else set()
    # one increment per event type, not per event: a batch holds thousands
    for event_type, n in collections.Counter(e.event.event_type for e in decision.accepted).items():
        EVENTS.labels("accepted", event_type).inc(n)
    for event_type, n in collections.Counter(decision.duplicate_types).items():
        EVENTS.labels("duplicate", event_type).inc(n)
    for refused in decision.refused:
        EVENTS.labels("rejected", refused.event_type or UNKNOWN).inc()
        REJECTED.labels(refused.reason).inc()
        record = refused.record
        log.info(
            "rejected %s: %s",
            refused.reason,
            refused.message,
            extra={"event_id": refused.event_id, "department": refused.department,
                   "reason": refused.reason, "source_topic": record.topic,
                   "source_partition": record.partition, "source_offset": record.offset},
        )  # fmt: skip
    for held in decision.held:
        if held.record.coordinates not in arrived:
            continue  # held before, still waiting
        EVENTS.labels("held", held.event_type or UNKNOWN).inc()
        log.info(
            "held %s until %s: %s",
            held.event_id,
            held.waits_for,
            held.message,
            extra={"event_id": held.event_id, "department": held.department,
                   "reason": held.reason, "waits_for": held.waits_for},
        )  # fmt: skip


def batch_done(records: int, seconds: float) -> None:
    BATCH_RECORDS.observe(records)
    BATCH_SECONDS.observe(seconds)


def published(relay: str) -> None:
    """The relay published (or found nothing to publish): it is moving."""
    LAST_PUBLISH.labels(relay).set(time.time())


async def refresh_outbox_lag(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for relay, lag in (await outbox_lag(conn)).items():
            OUTBOX_LAG.labels(relay).set(lag)
