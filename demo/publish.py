"""Publish the demo year to the inbound topics, exactly as the upstream systems would:
one JSON object per record, keyed by department.

    python -m demo.publish [--bootstrap-servers HOST:PORT]

It connects as KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* say; on a cluster with
ACLs, as a principal that may WRITE the three inbound topics.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaProducer
from rich.progress import Progress

from demo import guandu2017
from services.common.kafka import client_options
from services.common.settings import KafkaSettings, Topics

Offsets = dict[tuple[str, int], int]


class Codec(StrEnum):
    """Kafka's compression codecs: the ledger's consumer reads each (aiokafka, cramjam)."""

    GZIP = "gzip"
    SNAPPY = "snappy"
    LZ4 = "lz4"
    ZSTD = "zstd"


async def publish(
    bootstrap: str,
    events: Iterable[tuple[str, dict[str, Any]]],
    topics: Topics,
    show: bool = False,
    kafka: KafkaSettings | None = None,
    compression: str | None = None,
) -> tuple[int, Offsets]:
    """Publish (topic group, event) pairs, waiting for every acknowledgement.

    Returns how many were published and the last offset written to each (topic, partition).
    ``kafka``: how to connect (default: the environment's security settings, KAFKA_SECURITY_*).
    ``compression``: the batches' codec (gzip, snappy, lz4, zstd), as producers may set it.
    """
    by_group = {group: topic for topic, group in topics.inbound().items()}
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        max_batch_size=512 * 1024,
        acks="all",
        compression_type=compression,
        **client_options(kafka if kafka is not None else KafkaSettings()),
    )
    await producer.start()
    count = 0
    last_offsets: Offsets = {}

    async def settle(pending: list[asyncio.Future[Any]]) -> None:
        for meta in await asyncio.gather(*pending):
            key = (meta.topic, meta.partition)
            last_offsets[key] = max(last_offsets.get(key, -1), meta.offset)
        pending.clear()

    try:
        with Progress(disable=not show, transient=True) as progress:
            task = progress.add_task("publishing the demo year", total=None)
            pending = []
            for group, event in events:
                pending.append(
                    await producer.send(
                        by_group[group],
                        key=event["department"].encode(),
                        value=json.dumps(event, ensure_ascii=False).encode(),
                    )
                )
                count += 1
                if len(pending) >= 20_000:
                    await settle(pending)
                    progress.update(task, completed=count)
            await settle(pending)
    finally:
        await producer.stop()
    return count, last_offsets


def main(
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(
            help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)"
        ),
    ] = None,
    compression: Annotated[
        Codec | None, typer.Option(help="compress the batches, as producers may")
    ] = None,
) -> None:
    """Publish the seed report's 2017 year (demo/guandu2017.py) through Kafka."""
    settings = KafkaSettings()
    bootstrap = bootstrap_servers or settings.kafka_bootstrap_servers
    events = guandu2017.events()
    codec = compression.value if compression else None
    count, _ = asyncio.run(
        publish(bootstrap, events, settings.topics, show=True, kafka=settings, compression=codec)
    )
    typer.echo(f"published {count} events to {bootstrap}")


if __name__ == "__main__":
    typer.run(main)
