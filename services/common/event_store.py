"""Reading the ledger's event store (schema ``ledger``, table ``events``): the journal as typed
``JournalEntry`` messages.

The ledger writes the event store (services/ledger/store/); what is read of it by the
ledger's relay (to publish the journal) and by the performance service's replay (to rebuild
a fiscal year) is here, so both read the same entries, typed, in ledger order; and how far the
projections are behind it (performance's lag gauges, the gateway's readiness).

Ledger order is position order within a department: the ledger appends a department's
events one batch after another. Batches of different departments commit side by side, so a
smaller position of one department may commit after a larger one of another. Whoever follows
the store as it grows (the relay) therefore follows the commit order (``Cursor``: the
transaction that stored a row, then its position) up to the oldest transaction still
running (``FINISHED``), never "position > the last one seen".
"""

from __future__ import annotations

import gc
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from schemas.events import ALL_EVENTS, CASE_STAGES
from schemas.messages import JournalEntry

# an entry as one JSON object, parsed in one pass (the event and its context are the stored
# JSON, as validated when the ledger accepted the event; the time in UTC)
_ENTRY = """json_build_object(
    'position', e.position, 'stream_id', e.stream_id, 'stream_version', e.stream_version,
    'recorded_at', to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'event', e.payload, 'context', e.context)::text AS entry"""


class Cursor(NamedTuple):
    """A place in the store's commit order: the xid of the transaction that stored a row
    (``tx``; 0 for rows stored before it was kept) and the row's position (a rejection's
    rejection_id). Within a department, this order is position order."""

    tx: int
    position: int


START = Cursor(0, 0)

# the rows of transactions that have ended: every transaction whose xid is below the
# statement snapshot's xmin has committed or rolled back, so no row can appear later before
# a cursor taken from them; a row of a transaction still running (of any database of the
# server, even one that appends nothing here) waits for it
FINISHED = "tx < pg_snapshot_xmin(pg_current_snapshot())"


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a batch of entries is built (and, by
    their users, while the entries are alive). Typed entries are many small objects (a dozen
    each), none in a reference cycle: reference counting frees them. Collections while
    thousands of them are alive would each walk every one, which cost 5 to 6 times the
    parsing itself (a replay spent most of its time there)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _entries(rows: Sequence[Mapping[str, Any]]) -> list[JournalEntry]:
    """Rows of ``_ENTRY`` as typed journal entries."""
    with collector_paused():
        return [JournalEntry.model_validate_json(row["entry"]) for row in rows]


async def journal_after(conn: asyncpg.Connection, position: int, limit: int) -> list[JournalEntry]:
    """The next ``limit`` entries after a position, in position order, of those committed now:
    for a store that is not growing (a smaller position may still commit later: follow a
    growing store with ``journal_past``)."""
    rows = await conn.fetch(
        f"SELECT {_ENTRY} FROM ledger.events e WHERE e.position > $1 ORDER BY e.position LIMIT $2",
        position,
        limit,
    )
    return _entries(rows)


async def journal_past(
    conn: asyncpg.Connection, cursor: Cursor, limit: int
) -> list[tuple[Cursor, str, str]]:
    """The next ``limit`` entries past a cursor in commit order, of transactions that have
    ended (``FINISHED``): (its cursor, its department, the entry as JSON, a ``JournalEntry``
    made by PostgreSQL from the stored event: what is relayed needs no parsing)."""
    rows = await conn.fetch(
        f"""SELECT e.tx, e.position, e.department, {_ENTRY} FROM ledger.events e
            WHERE (e.tx, e.position) > ($1::xid8, $2::bigint) AND e.{FINISHED}
            ORDER BY e.tx, e.position LIMIT $3""",
        cursor.tx,
        cursor.position,
        limit,
    )
    return [(Cursor(int(r["tx"]), r["position"]), r["department"], r["entry"]) for r in rows]


# the event types that are not a case's stages (read by their index, being few)
OTHER_TYPES = tuple(t.__name__ for t in ALL_EVENTS if t.__name__ not in CASE_STAGES)


@dataclass(frozen=True)
class YearEvents:
    """A fiscal year's events (one department's, if given) in ledger order: those recorded by
    ``until`` (all, if None); per department, only positions in (since, upto] when ``upto``
    is given; with ``cases`` True only the cases' events, False all but them."""

    fiscal_year: int
    department: str | None = None
    until: datetime | None = None
    since: Mapping[str, int] | None = None
    upto: Mapping[str, int] | None = None
    cases: bool | None = None

    def where(self) -> tuple[str, list[Any]]:
        """SQL from ``FROM`` on (``ledger.events e``, ending with a condition), its arguments
        (the smallest position bounds the scan: a catch-up reads only the end of the store)."""
        bounds = dict(self.upto or {})
        args = [
            self.fiscal_year,
            self.department,
            self.until,
            self.upto is None,
            list(bounds),
            list(bounds.values()),
            [(self.since or {}).get(d, 0) for d in bounds],
            None if self.cases is None else list(CASE_STAGES if self.cases else OTHER_TYPES),
            min((self.since or {}).get(d, 0) for d in bounds) if bounds else 0,
        ]
        sql = """FROM ledger.events e
            LEFT JOIN unnest($5::text[], $6::bigint[], $7::bigint[]) AS b(department, upto, since)
                ON b.department = e.department
            WHERE e.position > $9 AND e.fiscal_year = $1
              AND ($2::text IS NULL OR e.department = $2)
              AND ($3::timestamptz IS NULL OR e.recorded_at <= $3)
              AND ($4 OR (e.position > b.since AND e.position <= b.upto))
              AND ($8::text[] IS NULL OR e.event_type = ANY($8::text[]))"""
        return sql, args

    async def count(self, conn: asyncpg.Connection) -> int:
        sql, args = self.where()
        return int(await conn.fetchval(f"SELECT count(*) {sql}", *args))

    async def read(
        self, conn: asyncpg.Connection, chunk: int
    ) -> AsyncGenerator[list[JournalEntry], None]:
        """The entries, ``chunk`` at a time, from one consistent snapshot (a server-side
        cursor in a read-only repeatable-read transaction held while iterating)."""
        sql, args = self.where()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            cursor = await conn.cursor(f"SELECT {_ENTRY} {sql} ORDER BY e.position", *args)
            while rows := await cursor.fetch(chunk):
                yield _entries(rows)


async def projection_lag(conn: asyncpg.Connection) -> tuple[int, float]:
    """How far the projections (``applied_positions`` of the connection's projection schema)
    are behind the event store, in one query on its primary key: (positions, seconds): the
    ledger's head position minus the highest position applied, and the age of the oldest
    event stored past that position (0 when none). A department lagging below the highest
    position shows in the consumer lag of its journal partition instead."""
    row = await conn.fetchrow(
        """
        WITH applied AS (SELECT coalesce(max(position), 0) AS position FROM applied_positions)
        SELECT coalesce((SELECT max(position) FROM ledger.events), 0) - a.position AS positions,
               coalesce(extract(epoch FROM now() - (
                   SELECT e.recorded_at FROM ledger.events e WHERE e.position > a.position
                   ORDER BY e.position LIMIT 1)), 0)::float8 AS seconds
        FROM applied a
        """
    )
    assert row is not None
    return max(0, int(row["positions"])), max(0.0, float(row["seconds"]))
