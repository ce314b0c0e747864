"""Settings every service shares: where PostgreSQL and Kafka are, and the topic names.

Each service subclasses ``CommonSettings``; nothing else reads the environment.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import TOPIC_DEFAULTS


class Topics(BaseSettings):
    """Topic names (docs/contract.md section 1; defaults in schemas/topics.py); each can be
    renamed with its environment variable (TOPIC_BUDGET_EVENTS, ...)."""

    model_config = SettingsConfigDict(env_prefix="TOPIC_", extra="ignore")

    budget_events: str = TOPIC_DEFAULTS.budget_events
    procurement_events: str = TOPIC_DEFAULTS.procurement_events
    case_events: str = TOPIC_DEFAULTS.case_events
    ledger_journal: str = TOPIC_DEFAULTS.ledger_journal
    ledger_rejected: str = TOPIC_DEFAULTS.ledger_rejected

    def inbound(self) -> dict[str, str]:
        """Inbound topic name -> the event group it carries (see schemas.events.TOPIC_GROUP)."""
        return {
            self.budget_events: "budget",
            self.procurement_events: "procurement",
            self.case_events: "case",
        }

    def all(self) -> list[str]:
        return [*self.inbound(), self.ledger_journal, self.ledger_rejected]


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS)"
    )
    topics: Topics = Field(default_factory=Topics)


class CommonSettings(KafkaSettings):
    database_url: str = Field(
        description="PostgreSQL DSN, e.g. postgresql://user:pw@host/db (DATABASE_URL)"
    )
    timezone: str = Field(
        "Asia/Shanghai", description="Time zone in which 'as of a date' days end (TIMEZONE)"
    )
