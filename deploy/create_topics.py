"""Create the contract's topics on a cluster (idempotent): ``python -m deploy.create_topics``.

Reads KAFKA_BOOTSTRAP_SERVERS, the security variables (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*,
KAFKA_SSL_*: services.common.settings.KafkaSettings), TOPIC_* (names), TOPIC_PARTITIONS,
TOPIC_REPLICATION_FACTOR and TOPIC_MIN_INSYNC_REPLICAS.

A missing topic is created with those; an existing one is left as it is (partitions and
replicas are not changed behind an operator's back), and what differs from the settings is
printed. Any other refusal of the cluster (a replication factor above the number of brokers,
a missing CREATE ACL) stops it with the cluster's message.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from pydantic import Field, model_validator

from services.common.kafka import client_options
from services.common.settings import KafkaSettings


class TopicSettings(KafkaSettings):
    topic_partitions: int = Field(12, ge=1, description="Partitions per topic (TOPIC_PARTITIONS)")
    topic_replication_factor: int = Field(
        1, ge=1, description="Replicas of each partition (TOPIC_REPLICATION_FACTOR)"
    )
    topic_min_insync_replicas: int = Field(
        1,
        ge=1,
        description="min.insync.replicas of each topic: the replicas an acks=all write must "
        "reach (TOPIC_MIN_INSYNC_REPLICAS)",
    )

    @model_validator(mode="after")
    def _reachable(self) -> TopicSettings:
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ValueError(
                f"TOPIC_MIN_INSYNC_REPLICAS={self.topic_min_insync_replicas} exceeds "
                f"TOPIC_REPLICATION_FACTOR={self.topic_replication_factor}: no write could succeed"
            )
        return self

    def new_topic(self, name: str) -> NewTopic:
        return NewTopic(
            name,
            self.topic_partitions,
            self.topic_replication_factor,
            topic_configs={"min.insync.replicas": str(self.topic_min_insync_replicas)},
        )


def differences(settings: TopicSettings, described: list[dict[str, Any]]) -> list[str]:
    """What the existing topics (metadata as the admin client describes them) have other than
    the settings: partitions and replication factor."""
    found = []
    for topic in described:
        partitions = topic["partitions"]
        replicas = min((len(p["replicas"]) for p in partitions), default=0)
        name = topic["topic"]
        if len(partitions) != settings.topic_partitions:
            found.append(f"{name}: {len(partitions)} partitions, not {settings.topic_partitions}")
        if replicas != settings.topic_replication_factor:
            wanted = settings.topic_replication_factor
            found.append(f"{name}: replication factor {replicas}, not {wanted}")
    return found


async def ensure_topics(admin: Any, settings: TopicSettings) -> tuple[list[str], list[str]]:
    """Create the missing topics; (names created, differences of the existing ones)."""
    names = settings.topics.all()
    existing = set(await admin.list_topics())
    missing = [settings.new_topic(name) for name in names if name not in existing]
    if missing:
        response = await admin.create_topics(missing)
        for name, code, *message in response.topic_errors:
            error = for_code(code)
            if code and error is not TopicAlreadyExistsError:  # created meanwhile: fine
                detail = message[0] if message and message[0] else error.description
                raise RuntimeError(f"topic {name}: {error.__name__}: {detail}")
    present = [name for name in names if name in existing]
    described = await admin.describe_topics(present) if present else []
    return [t.name for t in missing], differences(settings, described)


async def run(settings: TopicSettings) -> tuple[list[str], list[str]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="create-topics",
        **client_options(settings),
    )
    await admin.start()
    try:
        return await ensure_topics(admin, settings)
    finally:
        await admin.close()


def main() -> None:
    settings = TopicSettings()
    try:
        created, differing = asyncio.run(run(settings))
    except RuntimeError as error:
        sys.exit(str(error))
    for line in differing:
        print(f"left as it is: {line}")
    print(
        f"topics ready on {settings.kafka_bootstrap_servers}: {', '.join(settings.topics.all())}"
        f" (created: {', '.join(created) or 'none'}; replication factor "
        f"{settings.topic_replication_factor}, min.insync.replicas "
        f"{settings.topic_min_insync_replicas})"
    )


if __name__ == "__main__":
    main()
