"""The gateway's producer: what evaluators write goes to ``evaluation.events`` as an event
like any other, which the ledger validates and journals (docs/contract.md section 9).

It is started on the first write, so that the gateway reads (and starts) while the broker is
away; a write then fails with the broker's error, and nothing is published twice: the event
id is the client's answer only once the broker acknowledged the record (acks=all).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from schemas.events import Envelope
from services.common.kafka import client_options
from services.common.settings import CommonSettings

SEND_TIMEOUT = 30.0  # seconds a write waits for the broker's acknowledgement


class Publisher:
    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self.topic = settings.topics.evaluation_events
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                    client_id="reporting-gateway",
                    acks="all",
                    request_timeout_ms=int(SEND_TIMEOUT * 1000),
                    **client_options(self.settings),
                )
                await producer.start()
                self._producer = producer
            return self._producer

    async def publish(self, event: Envelope) -> str:
        """The event's record sent and acknowledged (keyed by its department); its topic."""
        producer = await self._started()
        value = event.model_dump_json().encode()
        send = producer.send_and_wait(self.topic, value=value, key=event.department.encode())
        await asyncio.wait_for(send, SEND_TIMEOUT)
        return self.topic

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
