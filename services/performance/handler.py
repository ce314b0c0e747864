"""Applying a batch of the journal to the projections, exactly once per journal position.

The store is an interface (``ProjectionStore``): PostgreSQL in the service (store.py), an
in-memory fake in the unit tests.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from zoneinfo import ZoneInfo

from schemas.messages import JournalEntry
from services.performance.projector import BatchProjection, Case, CaseKey, cases_to_load


class ProjectionBatch(Protocol):
    """The projections within one transaction: all of a batch's writes, or none."""

    async def lock_positions(self, departments: Sequence[str]) -> dict[str, int]:
        """The last journal position applied of each department (0 if none yet), locked
        until the transaction ends: no other consumer applies these departments meanwhile."""
        ...

    async def load_cases(self, keys: Collection[CaseKey]) -> dict[CaseKey, Case]:
        """The stored rows of these cases (those there are)."""
        ...

    async def write(self, projection: BatchProjection) -> None:
        """Add a batch's rows to the projections, merged as each table declares."""
        ...

    async def save_positions(self, positions: Mapping[str, int]) -> None:
        """The new last positions applied of the departments locked."""
        ...


class ProjectionStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[ProjectionBatch]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        ...


async def apply_entries(
    store: ProjectionStore, entries: Sequence[JournalEntry], timezone: ZoneInfo
) -> int:
    """Apply the journal entries not applied yet, in one transaction; returns how many were
    new. Positions grow within a department: an entry at or below its department's applied
    position (a redelivery) is skipped."""
    async with store.transaction() as batch:
        applied = await batch.lock_positions(sorted({e.event.department for e in entries}))
        fresh = []
        for entry in entries:
            department = entry.event.department
            if entry.position > applied[department]:
                fresh.append(entry)
                applied[department] = entry.position
        if not fresh:
            return 0
        projection = BatchProjection(timezone, await batch.load_cases(cases_to_load(fresh)))
        for entry in fresh:
            projection.apply(entry)
        await batch.write(projection)
        await batch.save_positions(applied)
        return len(fresh)
