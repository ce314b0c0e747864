"""A replay's events folded in Python into the shadow: every event but the cases' while
rebuilding (PostgreSQL builds those, cases.py), and every event of the catch-up at the swap."""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from contextlib import aclosing
from zoneinfo import ZoneInfo

import asyncpg

from schemas.messages import JournalEntry
from services.common.event_store import collector_paused
from services.performance.projector import BatchProjection, cases_to_load
from services.performance.replay.scope import Scope
from services.performance.store import load_cases, write


class Part:
    """Events in scope, in ledger order, folded by the live service's ``BatchProjection``
    into the shadow; the cases they follow up on come from the shadow."""

    def __init__(
        self,
        perf: asyncpg.Pool,
        ledger: asyncpg.Pool,
        scope: Scope,
        progress: Callable[[int], None] = lambda done: None,
    ) -> None:
        self.perf, self.ledger, self.scope, self.progress = perf, ledger, scope, progress
        self.projection = BatchProjection(ZoneInfo(scope.timezone), {})
        self.done = 0

    async def stream(
        self,
        since: Mapping[str, int] | None,
        upto: Mapping[str, int] | None,
        cases: bool | None = None,
    ) -> None:
        """Fold the events in scope (only the cases', none of them, or all: ``cases``), a
        ``chunk`` at a time; every ``flush_every`` events the daily buckets go to the shadow
        (see ``finish``), so memory stays flat whatever the year's size."""
        events = self.scope.events(since, upto, cases)
        async with (
            self.ledger.acquire() as conn,
            aclosing(events.read(conn, self.scope.chunk)) as chunks,
        ):
            # a chunk's entries and what the fold makes of them are in no reference cycle
            # (reference counting frees them); a collection while they are alive would walk
            # every one of them (see collector_paused): one runs after each flush_every
            with collector_paused():
                async for entries in chunks:
                    await self._apply(entries)
                    del entries  # before the next chunk is read: one chunk in memory at a time

    async def _apply(self, entries: list[JournalEntry]) -> None:
        p = self.projection
        async with self.perf.acquire() as perf:
            needed = cases_to_load(entries, p.cases)
            p.cases.update(await load_cases(perf, needed, self.scope.schema))
        for entry in entries:
            p.apply(entry)
        self.done += len(entries)
        if self.done % self.scope.flush_every < len(entries):
            await self.finish()
            self.projection = BatchProjection(p.timezone, {})
            gc.collect()
        self.progress(self.done)

    async def finish(self) -> None:
        """Add what the fold holds to the shadow."""
        async with self.perf.acquire() as conn, conn.transaction():
            await write(conn, self.projection, self.scope.schema)
