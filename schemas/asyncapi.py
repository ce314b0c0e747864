"""The AsyncAPI document of the ledger's topics (CONTRACT.md section 1), built with faststream.

The ledger receives the three inbound topics and sends ``ledger.journal`` and
``ledger.rejected``. Its real subscriber reads raw records (so that it can reject any bytes
with a reason); the operations here carry the message schemas for the document only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import Field

from schemas.events import BUDGET_EVENTS, CASE_EVENTS, PROCUREMENT_EVENTS, Envelope
from schemas.messages import JournalEntry, Rejection
from services.common.settings import Topics

KEY = "Record key: the event's department code (UTF-8), so a department's events stay in order."


def _union(models: tuple[type[Envelope], ...]) -> Any:
    union: Any = models[0]
    for model in models[1:]:
        union = union | model
    return Annotated[union, Field(discriminator="event_type")]


def _receiver(payload: Any) -> Callable[[Any], Awaitable[None]]:
    async def receive(event: Any) -> None:
        """Documentation only: services/ledger/app.py is the consumer."""

    receive.__annotations__["event"] = payload  # the message schema of this operation
    return receive


def document() -> dict[str, Any]:
    topics = Topics()
    broker = KafkaBroker("127.0.0.1:9092", description="Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    inbound = [
        (topics.budget_events, BUDGET_EVENTS, "The finance system: budget, funds, spending, "
         "targets and outputs"),
        (topics.procurement_events, PROCUREMENT_EVENTS, "The government procurement system"),
        (topics.case_events, CASE_EVENTS, "The city-management case platform (网格化/数字城管)"),
    ]  # fmt: skip
    for topic, models, publisher in inbound:
        broker.subscriber(
            topic,
            title=f"{topic}:receive",
            description=f"{publisher}. One JSON event per record (CONTRACT.md sections 2-3); "
            f"{KEY} Unknown fields, float amounts and broken rules are rejected to "
            f"{topics.ledger_rejected}.",
        )(_receiver(_union(models)))
    broker.publisher(
        topics.ledger_journal,
        title=f"{topics.ledger_journal}:send",
        description="Accepted events in ledger order, with their position; positions grow "
        f"strictly within a department. At least once: apply each position once. {KEY}",
        schema=JournalEntry,
    )
    broker.publisher(
        topics.ledger_rejected,
        title=f"{topics.ledger_rejected}:send",
        description="Every inbound record that was not accepted: reason code, field, message, "
        "source topic/partition/offset and the original bytes (base64). `ledger rejections` "
        f"lists and resubmits them. {KEY}",
        schema=Rejection,
    )
    spec = AsyncAPI(
        broker,
        title="Public ledger: integration contract",
        version="1",
        description="Events that upstream systems publish and the ledger's outbound topics. "
        "See CONTRACT.md and schemas/json/.",
    )
    return spec.to_specification().to_jsonable()  # type: ignore[no-any-return]
