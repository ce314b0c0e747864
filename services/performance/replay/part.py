"""One process's part of a replay: its share of the year's events, folded into the shadow."""

from __future__ import annotations

import gc
import operator
from collections.abc import Callable, Mapping
from contextlib import aclosing
from zoneinfo import ZoneInfo

import asyncpg

from schemas.messages import JournalEntry
from services.common.event_store import collector_paused
from services.common.projections import CASES
from services.performance.projector import CASE_COLUMNS, BatchProjection, CaseKey, cases_to_load
from services.performance.replay.scope import Scope
from services.performance.store import load_cases, write, write_rows

_case_row = operator.itemgetter(*CASE_COLUMNS)


class Part:
    """Every case whose stream hashes to its share (and, for share 0, every other event),
    projected into the shadow. The projection is additive, so the parts' rows sum to the
    whole year's."""

    def __init__(
        self,
        perf: asyncpg.Pool,
        ledger: asyncpg.Pool,
        scope: Scope,
        share: tuple[int, int] = (0, 1),
        progress: Callable[[int], None] = lambda done: None,
    ) -> None:
        self.perf, self.ledger, self.scope, self.share = perf, ledger, scope, share
        self.progress = progress
        self.projection = BatchProjection(ZoneInfo(scope.timezone), {})
        self.stored: set[CaseKey] = set()  # open cases written to the shadow
        self.done = 0

    async def stream(
        self,
        since: Mapping[str, int] | None,
        upto: Mapping[str, int] | None,
        catch_up: bool = False,
    ) -> None:
        """Apply this part's events in scope, in ledger order. A case not in memory comes from
        the shadow; while rebuilding, after every ``chunk`` events the cases go to the shadow
        (see ``flush``), so memory holds one chunk's cases whatever the year's size."""
        events = self.scope.events(since, upto, self.share)
        async with (
            self.ledger.acquire() as conn,
            aclosing(events.read(conn, self.scope.chunk)) as chunks,
        ):
            # a chunk's entries and what the fold makes of them are in no reference cycle
            # (reference counting frees them); a collection while they are alive would walk
            # every one of them (see collector_paused): one runs after each flush_every
            with collector_paused():
                async for entries in chunks:
                    await self._apply(entries, catch_up)
                    del entries  # before the next chunk is read: one chunk in memory at a time

    async def _apply(self, entries: list[JournalEntry], catch_up: bool) -> None:
        """Fold a chunk: its cases from the shadow, then (unless catching up, which writes
        at the end) the cases to the shadow, and every ``flush_every`` events the buckets."""
        p = self.projection
        async with self.perf.acquire() as perf:
            stored = await load_cases(perf, cases_to_load(entries, p.cases), self.scope.schema)
            p.cases.update(stored)
            for entry in entries:
                p.apply(entry)
            if not catch_up:
                await self.flush(perf)
        self.done += len(entries)
        if not catch_up and self.done % self.scope.flush_every < len(entries):
            await self.finish()  # the daily buckets too: memory stays flat
            self.projection = BatchProjection(p.timezone, {})
            gc.collect()
        self.progress(self.done)

    async def flush(self, conn: asyncpg.Connection, everything: bool = False) -> None:
        """Write cases to the shadow and forget them: those closed (no stage follows a
        closure), and those no event of the last chunk touched (or, at the end, all)."""
        p = self.projection
        done = [
            key
            for key, case in p.cases.items()
            if everything or case["closed_at"] is not None or key not in p.touched_cases
        ]
        new = [p.cases[key] for key in done if key not in self.stored]
        again = [CASES.row(p.cases[key]) for key in done if key in self.stored]
        if new:
            await conn.copy_records_to_table(
                CASES.name, schema_name=self.scope.schema, columns=CASE_COLUMNS,
                records=[_case_row(case) for case in new],
            )  # fmt: skip
        await write_rows(conn, self.scope.schema, CASES, again)
        for key in done:
            if p.cases.pop(key)["closed_at"] is None:
                self.stored.add(key)  # open: an event may bring it back
            else:
                self.stored.discard(key)
        p.touched_cases.clear()

    async def finish(self) -> None:
        """Add what is still in memory to the shadow, one part at a time (additive upserts
        of parts running at once could deadlock)."""
        async with self.perf.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('replay-finish'))")
            await self.flush(conn, everything=True)
            await write(conn, self.projection, self.scope.schema)
