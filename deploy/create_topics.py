"""Create the contract's topics on a cluster (idempotent): ``python -m deploy.create_topics``.

Reads KAFKA_BOOTSTRAP_SERVERS, the security variables (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*,
KAFKA_SSL_*: services.common.settings.KafkaSettings), TOPIC_* and TOPIC_PARTITIONS."""

from __future__ import annotations

import asyncio

from pydantic import Field

from deploy.infra import create_topics
from services.common.settings import KafkaSettings


class TopicSettings(KafkaSettings):
    topic_partitions: int = Field(12, ge=1, description="Partitions per topic (TOPIC_PARTITIONS)")


def main() -> None:
    settings = TopicSettings()
    asyncio.run(
        create_topics(
            settings.kafka_bootstrap_servers,
            settings.topics.all(),
            settings.topic_partitions,
            kafka=settings,
        )
    )
    print(f"topics ready on {settings.kafka_bootstrap_servers}: {', '.join(settings.topics.all())}")


if __name__ == "__main__":
    main()
