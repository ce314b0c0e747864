"""Metrics the consumers share: their Kafka consumer lag, and the loop that refreshes the
gauges computed by asking (the broker, the database) every METRICS_REFRESH_SECONDS.

Counters and histograms are updated where things happen (services/*/observe.py); these
gauges are asked for, cheaply (a few requests, one indexed query), at a fixed pace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Gauge

from services.common.kafka import client_options
from services.common.settings import KafkaSettings

log = logging.getLogger(__name__)

KAFKA_CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Records of a partition the consumer group has not committed yet: the partition's end "
    "offset minus the group's committed offset (0 when the broker reports an end below it)",
    ["group", "topic", "partition"],
)
REFRESH_TIMEOUT = 10.0  # seconds a refresh may take (a broker or database that went away)


class GroupWatch:
    """A consumer group seen from outside, by a client that never joins it: its lag per
    partition of its topics (``refresh``, into kafka_consumer_lag), and whether the broker
    answers (``reachable``, a readiness check)."""

    def __init__(self, kafka: KafkaSettings, group: str, topics: Sequence[str]) -> None:
        self.kafka, self.group, self.topics = kafka, group, list(topics)
        self._consumer: AIOKafkaConsumer | None = None
        self._starting = asyncio.Lock()

    async def _client(self) -> AIOKafkaConsumer:
        """The watching client, started on first use (and again after a failed start)."""
        async with self._starting:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.kafka.kafka_bootstrap_servers,
                    group_id=self.group,  # to read its commits; it never subscribes
                    enable_auto_commit=False,
                    client_id=f"{self.group}-watch",
                    **client_options(self.kafka),
                )
                try:
                    await consumer.start()
                except BaseException:
                    await consumer.stop()
                    raise
                self._consumer = consumer
            return self._consumer

    async def reachable(self) -> str:
        """The broker answers a metadata request."""
        topics = await (await self._client()).topics()
        return f"{len(topics)} topics"

    async def refresh(self) -> None:
        consumer = await self._client()
        await consumer.topics()  # the partitions of the topics, fetched again
        partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp) or 0  # (Tansu: no batched OffsetFetch)
            lag = KAFKA_CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition))
            lag.set(max(0, ends[tp] - committed))

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


Refresher = Callable[[], Awaitable[None]]


async def refresh_every(interval: float, refreshers: Mapping[str, Refresher]) -> None:
    """Run the refreshers (by what they refresh) every ``interval`` seconds until cancelled.
    One that fails (the broker or the database away) keeps its gauges' last values, is
    logged once until it succeeds again, and is tried again at the next round."""
    failing: set[str] = set()
    while True:
        for name, refresh in refreshers.items():
            try:
                await asyncio.wait_for(refresh(), REFRESH_TIMEOUT)
            except Exception as error:
                if name not in failing:
                    log.warning("metrics: %s not refreshed (tried every %s s): %r", name,
                                interval, error)  # fmt: skip
                failing.add(name)
            else:
                failing.discard(name)
        await asyncio.sleep(interval)
