"""The AsyncAPI document of the ledger's topics (docs/contract.md sections 1 and A), built
with faststream. Its descriptions are the sentences of schemas/topics.py, which
docs/contract.md carries word for word.

The ledger receives the four inbound topics and sends ``ledger.journal`` and
``ledger.rejected``. Its real subscriber reads raw records (so that it can reject any bytes
with a reason); the operations here carry the message schemas for the document only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from schemas.events import (
    BUDGET_EVENTS,
    CASE_EVENTS,
    EVALUATION_EVENTS,
    PROCUREMENT_EVENTS,
)
from schemas.messages import JournalEntry, Rejection
from schemas.topics import (
    JOURNAL,
    NOT_DROPPED,
    PUBLISHERS,
    RECORD_KEY,
    RECORD_VALUE,
    REJECTED,
    SUMMARY,
    TOPIC_DEFAULTS,
)
from schemas.versions import EARLIER_VERSIONS, union_of


def _receiver(payload: Any) -> Callable[[Any], Awaitable[None]]:
    async def receive(event: Any) -> None:
        """Documentation only: services/ledger/app.py is the consumer."""

    receive.__annotations__["event"] = payload  # the message schema of this operation
    return receive


def document() -> dict[str, Any]:
    topics = TOPIC_DEFAULTS
    broker = KafkaBroker("127.0.0.1:9092", description="Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    inbound = [
        ("budget_events", BUDGET_EVENTS + EARLIER_VERSIONS),
        ("procurement_events", PROCUREMENT_EVENTS),
        ("case_events", CASE_EVENTS),
        ("evaluation_events", EVALUATION_EVENTS),
    ]
    for name, models in inbound:
        topic = getattr(topics, name)
        broker.subscriber(
            topic,
            title=f"{topic}:receive",
            description=f"Published by {PUBLISHERS[name]}. {RECORD_VALUE} {RECORD_KEY} "
            f"{NOT_DROPPED} See docs/contract.md sections 1-3.",
        )(_receiver(union_of(models)))
    broker.publisher(
        topics.ledger_journal,
        title=f"{topics.ledger_journal}:send",
        description=f"{JOURNAL} See docs/contract.md section A.",
        schema=JournalEntry,
    )
    broker.publisher(
        topics.ledger_rejected,
        title=f"{topics.ledger_rejected}:send",
        description=f"{REJECTED} See docs/contract.md sections A and C.",
        schema=Rejection,
    )
    spec = AsyncAPI(
        broker,
        title="Public ledger: integration contract",
        version="1",
        description=f"{SUMMARY} See docs/contract.md and schemas/json/.",
    )
    return spec.to_specification().to_jsonable()  # type: ignore[no-any-return]
