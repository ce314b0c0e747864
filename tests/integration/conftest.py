from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import KafkaTarget
from tests.helpers import Stack


@pytest.fixture
def stack(database: str, kafka: KafkaTarget, tmp_path: Path) -> Iterator[Stack]:
    """Services of this test, started by the test, always stopped after it."""
    stack = Stack(database, kafka, tmp_path)
    yield stack
    stack.stop()
