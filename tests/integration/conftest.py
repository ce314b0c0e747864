from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from services.common.db import create_pool, migrate
from services.ledger import ingest
from services.performance import store
from tests.conftest import KafkaTarget
from tests.helpers import Stack

LEDGER_MIGRATIONS = Path(ingest.__file__).with_name("migrations")
PERFORMANCE_MIGRATIONS = Path(store.__file__).with_name("migrations")


@contextlib.asynccontextmanager
async def migrated_pool(dsn: str, *folders: Path) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database with these services' tables, migrated as the services do."""
    for folder in folders:
        await migrate(dsn, folder)
    pool = await create_pool(dsn)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def stack(database: str, kafka: KafkaTarget, tmp_path: Path) -> Iterator[Stack]:
    """Services of this test, started by the test, always stopped after it."""
    stack = Stack(database, kafka, tmp_path)
    yield stack
    stack.stop()
