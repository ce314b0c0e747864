"""The relays' bookkeeping in PostgreSQL: their cursors (``ledger.relay_cursors``), the
leadership lock that elects the one ledger instance that relays, the notification that
wakes it when something was appended, and what is waiting to be relayed (the outbox lag).

A cursor is a place in commit order (``Cursor``: tx, position; the rejections' position is
their rejection_id). Appends lock only the departments they write (store/batch.py), so
positions of different departments may commit out of the order they were drawn in; each row
stores the xid of its transaction, drawn once that transaction held its departments' locks,
so within a department xid order is position order and commit order. A relay reads the rows
past its cursor in (tx, position) order, of transactions below the snapshot's xmin only:
every transaction below it has ended, so no row can appear later before the cursor, and
none is skipped without any global order of appends. The price is latency, never loss: a
row waits for every write transaction that started before it to end, whichever it is (a
long one, e.g. a replay's, on any database of the server, holds the relays back while it
runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from services.common.event_store import START, Cursor

APPENDED = "ledger_appended"  # the channel notified when events or rejections were stored


async def notify_appended(db: asyncpg.Pool | asyncpg.Connection) -> None:
    """Wake the relay (at the commit of the current transaction, if there is one)."""
    await db.execute(f"SELECT pg_notify('{APPENDED}', '')")


async def listen_appended(conn: asyncpg.Connection, callback: Callable[..., Any]) -> None:
    await conn.add_listener(APPENDED, callback)


async def try_lead(conn: asyncpg.Connection) -> bool:
    """Take the relay leadership (a session lock, released if the connection dies) if free.
    The connection is named ``leader_name()``: ``relay_leader`` finds who holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext('ledger.relay'))"))


LEADER_PREFIX = "ledger relay (pid "


def leader_name(pid: int) -> str:
    """The application_name of the leadership connection of the ledger process ``pid``."""
    return f"{LEADER_PREFIX}{pid})"


async def relay_leader(conn: asyncpg.Connection) -> int | None:
    """The OS pid of the ledger process that holds the relay leadership (None: none now)."""
    name = await conn.fetchval(
        """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()
             AND a.application_name LIKE 'ledger relay (pid %'"""
    )
    return int(name.removeprefix(LEADER_PREFIX).removesuffix(")")) if name else None


# each relay's table and the column its cursor's position is
TABLES = {
    "journal": ("ledger.events", "position"),
    "rejected": ("ledger.rejections", "rejection_id"),
}


async def read_cursor(db: asyncpg.Pool | asyncpg.Connection, name: str) -> Cursor:
    row = await db.fetchrow("SELECT tx, position FROM ledger.relay_cursors WHERE name = $1", name)
    assert row is not None, f"no relay cursor {name!r}"
    return Cursor(int(row["tx"]), int(row["position"]))


async def move_cursor(
    db: asyncpg.Pool | asyncpg.Connection,
    name: str,
    cursor: Cursor,
    expected: Cursor | None = None,
) -> bool:
    """Set a relay's cursor (only if it still is ``expected``, when given); wake the relay."""
    status = await db.execute(
        """
        UPDATE ledger.relay_cursors SET tx = $2, position = $3
        WHERE name = $1 AND ($4::xid8 IS NULL OR (tx, position) = ($4::xid8, $5::bigint))
        """,
        name,
        cursor.tx,
        cursor.position,
        None if expected is None else expected.tx,
        None if expected is None else expected.position,
    )
    await notify_appended(db)
    return bool(status == "UPDATE 1")


async def cursor_at(conn: asyncpg.Connection, name: str, position: int) -> Cursor | None:
    """The cursor of the row at this position (rejection_id) of a relay's table: just past
    it. ``START`` for 0; None when the table has no such row."""
    if position == 0:
        return START
    table, column = TABLES[name]
    tx = await conn.fetchval(f"SELECT tx FROM {table} WHERE {column} = $1", position)
    return None if tx is None else Cursor(int(tx), position)


async def republish_after(
    db: asyncpg.Pool | asyncpg.Connection, name: str, position: int
) -> Cursor:
    """Move a relay's cursor back so that it publishes again every row past this position (a
    row before it too, when it committed after one past it: consumers skip what they
    applied); never forward. Returns the cursor, moved or not."""
    table, column = TABLES[name]
    cursor = await db.fetchrow(
        f"""
        WITH back AS (
            SELECT least((SELECT min(tx) FROM {table} WHERE {column} > $2),
                         pg_snapshot_xmin(pg_current_snapshot())) AS tx)
        UPDATE ledger.relay_cursors c SET tx = back.tx, position = 0 FROM back
        WHERE c.name = $1 AND (back.tx, 0::bigint) < (c.tx, c.position)
        RETURNING c.tx, c.position
        """,
        name,
        position,
    )
    await notify_appended(db)
    if cursor is None:  # it was there already
        return await read_cursor(db, name)
    return Cursor(int(cursor["tx"]), int(cursor["position"]))


async def outbox_lag(conn: asyncpg.Connection) -> dict[str, int]:
    """Each relay's rows stored past its cursor (in commit order), not published yet: those
    of transactions that ended and are waiting for an older one still running count too."""
    rows = await conn.fetch(
        """
        SELECT c.name, CASE c.name
            WHEN 'journal' THEN (SELECT count(*) FROM ledger.events e
                                 WHERE (e.tx, e.position) > (c.tx, c.position))
            ELSE (SELECT count(*) FROM ledger.rejections r
                  WHERE (r.tx, r.rejection_id) > (c.tx, c.position))
        END AS lag
        FROM ledger.relay_cursors c
        """
    )
    return {row["name"]: int(row["lag"]) for row in rows}
