"""deploy/create_topics.py against a stand-in admin client: missing topics are created with
the configured partitions, replication factor and min.insync.replicas; existing ones are
left alone and what differs is told; a refusal of the cluster stops it with its message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from deploy.create_topics import TopicSettings, ensure_topics


@dataclass
class Response:
    topic_errors: list[tuple[str, int, str | None]]


@dataclass
class FakeAdmin:
    existing: dict[str, list[dict[str, Any]]]  # topic -> partitions (with their replicas)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)  # topic -> error
    created: list[Any] = field(default_factory=list)

    async def list_topics(self) -> list[str]:
        return list(self.existing)

    async def create_topics(self, topics: list[Any]) -> Response:
        self.created += topics
        return Response([(t.name, *self.refuse.get(t.name, (0, None))) for t in topics])

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [{"topic": name, "partitions": self.existing[name]} for name in names]


def settings(**values: Any) -> TopicSettings:
    return TopicSettings.model_validate({"topic_partitions": 6, **values})


async def test_missing_topics_are_created_as_configured() -> None:
    wanted = settings(topic_replication_factor=3, topic_min_insync_replicas=2)
    journal = wanted.topics.ledger_journal
    admin = FakeAdmin({journal: [{"replicas": [1, 2, 3]}] * 6})
    created, differing = await ensure_topics(admin, wanted)
    assert created == [t for t in wanted.topics.all() if t != journal]
    assert differing == []
    for topic in admin.created:
        assert (topic.num_partitions, topic.replication_factor) == (6, 3)
        assert topic.topic_configs == {"min.insync.replicas": "2"}


async def test_existing_topics_are_left_as_they_are_and_differences_told() -> None:
    wanted = settings(topic_replication_factor=3, topic_min_insync_replicas=2)
    existing = {t: [{"replicas": [1]}] * 4 for t in wanted.topics.all()}
    admin = FakeAdmin(existing)
    created, differing = await ensure_topics(admin, wanted)
    assert created == [] and admin.created == []
    journal = wanted.topics.ledger_journal
    assert f"{journal}: 4 partitions, not 6" in differing
    assert f"{journal}: replication factor 1, not 3" in differing


async def test_a_topic_created_meanwhile_is_fine_and_a_refusal_stops() -> None:
    wanted = settings(topic_replication_factor=3, topic_min_insync_replicas=2)
    budget = wanted.topics.budget_events
    assert (await ensure_topics(FakeAdmin({}, {budget: (36, "exists")}), wanted))[0]
    refused = FakeAdmin(
        {}, {budget: (38, "Replication factor: 3 larger than available brokers: 1.")}
    )
    with pytest.raises(RuntimeError, match="InvalidReplicationFactorError: Replication factor: 3"):
        await ensure_topics(refused, wanted)


def test_min_insync_replicas_above_the_replicas_is_refused() -> None:
    with pytest.raises(ValidationError, match="TOPIC_MIN_INSYNC_REPLICAS=2 exceeds"):
        settings(topic_replication_factor=1, topic_min_insync_replicas=2)
