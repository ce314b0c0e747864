"""The ledger's store interface: what the batch orchestration (ingest.py) reads and writes.

``services.ledger.store.PostgresLedgerStore`` implements it on PostgreSQL; ``tests/fakes.py``
in memory, so that the orchestration is unit-tested without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from schemas.messages import ReversedDisbursement
from services.ledger.records import Coordinates, Decision, Held, InboundRecord


class ConcurrencyConflict(Exception):
    """A stream changed under us: its stored version is not the one the decision was based on."""


class MoreDepartments(Exception):
    """A batch found held records of departments whose locks it could not take in order
    (another batch holds one): it is rolled back, to run again locking ``departments``
    from the start."""

    def __init__(self, departments: Iterable[str]) -> None:
        self.departments = frozenset(departments)
        super().__init__(f"run again locking {sorted(self.departments)}")


class LedgerBatch(Protocol):
    """One batch's transaction, holding the locks of the departments it writes: two batches
    of one department never run at once (so no two decide on the same department's state,
    and within a department positions commit in the order they are drawn); batches of
    different departments do."""

    async def judged_records(self, records: Sequence[InboundRecord]) -> set[Coordinates]:
        """Coordinates of these records already rejected or held (a Kafka redelivery)."""
        ...

    async def pending(
        self, waits_for: Iterable[str], expired_before: datetime | None = None
    ) -> list[Held]:
        """Stored held records waiting for one of these keys (or held since before
        ``expired_before``), oldest first; their departments locked first (raises
        ``MoreDepartments`` if one cannot be, in order)."""
        ...

    async def known_hashes(self, event_ids: list[str]) -> dict[str, bytes]:
        """Content hashes of the accepted events with these ids."""
        ...

    async def disbursements(self, event_ids: list[str]) -> dict[str, ReversedDisbursement]:
        """Accepted Disbursed events by id, as the journal context of a reversal describes them."""
        ...

    async def load_streams(
        self, stream_ids: Iterable[str]
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        """(version, state) of the stored streams among these."""
        ...

    async def append(self, decision: Decision) -> None:
        """Write a batch's decision: accepted events and their streams (raising
        ``ConcurrencyConflict`` if a stream is not at the version the decision read),
        rejections, released and newly held records; resolve the rejections it corrects."""
        ...


class LedgerStore(Protocol):
    def batch(self, departments: Iterable[str]) -> AbstractAsyncContextManager[LedgerBatch]:
        """A transaction holding the locks of these departments (those of the records it
        judges; a record naming none writes only a rejection, which needs none): committed if
        the block succeeds, else nothing of it is kept."""
        ...

    async def has_expired(self, held_before: datetime) -> bool:
        """Whether a record has been held since ``held_before`` or earlier."""
        ...
