"""Real servers for the tests: an embedded PostgreSQL for the session (a fresh database
per test) and a fresh Tansu broker per test, unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS
point at servers (then each test gets its own database and topic names)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from deploy.infra import Broker, create_topics, free_port, start_postgres
from services.common.settings import Topics


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    root = Path(tempfile.mkdtemp(prefix="ledger-tests-"))
    yield start_postgres(root / "pg", delete_on_exit=True)


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


async def create_database(pg_dsn: str) -> str:
    """A fresh, empty database on the server; its DSN."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return with_database(pg_dsn, name)


@pytest.fixture
async def database(pg_dsn: str) -> str:
    return await create_database(pg_dsn)


@dataclass
class KafkaTarget:
    bootstrap: str
    topics: Topics
    broker: Broker | None = None  # the embedded broker, when the test started one

    def env(self) -> dict[str, str]:
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}
        for field, topic in self.topics.model_dump().items():
            env[f"TOPIC_{field.upper()}"] = topic
        return env


@pytest.fixture
async def kafka(tmp_path: Path) -> AsyncIterator[KafkaTarget]:
    """An empty broker (or unique topics on the given cluster), topics created."""
    broker = None
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        suffix = uuid.uuid4().hex[:8]
        topics = Topics(**{k: f"{v}.{suffix}" for k, v in Topics().model_dump().items()})
    else:
        broker = Broker(free_port(), tmp_path / "tansu.log").start()
        bootstrap, topics = broker.bootstrap, Topics()
    await create_topics(bootstrap, topics.all())
    try:
        yield KafkaTarget(bootstrap, topics, broker)
    finally:
        if broker:
            broker.stop()
