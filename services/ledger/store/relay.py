"""The relays' bookkeeping in PostgreSQL: their cursors (``ledger.relay_cursors``), the
leadership lock that elects the one ledger instance that relays, the notification that
wakes it when something was appended, and what is waiting to be relayed (the outbox lag)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

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


async def read_cursor(conn: asyncpg.Connection, name: str) -> int:
    sql = "SELECT position FROM ledger.relay_cursors WHERE name = $1"
    return int(await conn.fetchval(sql, name))


async def move_cursor(
    db: asyncpg.Pool | asyncpg.Connection, name: str, position: int, expected: int | None = None
) -> bool:
    """Set a relay's cursor (only if it still is ``expected``, when given); wake the relay."""
    status = await db.execute(
        """
        UPDATE ledger.relay_cursors SET position = $2
        WHERE name = $1 AND ($3::bigint IS NULL OR position = $3)
        """,
        name,
        position,
        expected,
    )
    await notify_appended(db)
    return bool(status == "UPDATE 1")


async def outbox_lag(conn: asyncpg.Connection) -> dict[str, int]:
    """Each relay's rows stored past its cursor, not published yet (counted on the primary
    keys: ``position`` of the events, ``rejection_id`` of the rejections)."""
    rows = await conn.fetch(
        """
        SELECT c.name, CASE c.name
            WHEN 'journal' THEN (SELECT count(*) FROM ledger.events e WHERE e.position > c.position)
            ELSE (SELECT count(*) FROM ledger.rejections r WHERE r.rejection_id > c.position)
        END AS lag
        FROM ledger.relay_cursors c
        """
    )
    return {row["name"]: int(row["lag"]) for row in rows}
