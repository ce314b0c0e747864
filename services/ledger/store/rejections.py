"""Rejected and held records in PostgreSQL, as the operator CLI and the rejection relay read
them (``ledger.rejections``, ``ledger.pending``)."""

from __future__ import annotations

import base64
from datetime import datetime

import asyncpg

from schemas.messages import Rejection
from services.common.event_store import FINISHED, Cursor

STATUS_SQL = """CASE WHEN resolved_position IS NOT NULL THEN 'resolved'
                     WHEN resubmitted_at IS NOT NULL THEN 'resubmitted' ELSE 'open' END"""


async def list_rejections(
    conn: asyncpg.Connection,
    department: str | None,
    reason: str | None,
    since: datetime | None,
    until: datetime | None,
    status: str,
    limit: int,
) -> list[asyncpg.Record]:
    """Rejections matching the filters (None: any; status ``all``: any), newest first."""
    return await conn.fetch(  # type: ignore[no-any-return]
        f"""
        SELECT rejection_id, received_at, department, event_id, reason, field, message,
               source_topic, source_partition, source_offset, resubmitted_event_id,
               resolved_position, {STATUS_SQL} AS status
        FROM ledger.rejections
        WHERE ($1::text IS NULL OR department = $1) AND ($2::text IS NULL OR reason = $2)
          AND ($3::timestamptz IS NULL OR received_at >= $3)
          AND ($4::timestamptz IS NULL OR received_at < $4)
          AND ($5::text = 'all' OR {STATUS_SQL} = $5)
        ORDER BY rejection_id DESC LIMIT $6
        """,
        department,
        reason,
        since,
        until,
        status,
        limit,
    )


async def fetch_rejection(conn: asyncpg.Connection, rejection_id: int) -> asyncpg.Record | None:
    """One rejection, every column and its ``status`` (None if there is none with this id)."""
    return await conn.fetchrow(
        f"SELECT *, {STATUS_SQL} AS status FROM ledger.rejections WHERE rejection_id = $1",
        rejection_id,
    )


async def mark_resubmitted(conn: asyncpg.Connection, rejection_id: int, event_id: str) -> None:
    """Record that a rejection was resubmitted as the event ``event_id`` (now)."""
    await conn.execute(
        """
        UPDATE ledger.rejections SET resubmitted_event_id = $2, resubmitted_at = now()
        WHERE rejection_id = $1
        """,
        rejection_id,
        event_id,
    )


async def list_held(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Held records, oldest first."""
    return await conn.fetch(  # type: ignore[no-any-return]
        """
        SELECT pending_id, held_since, department, event_id, reason, waits_for
        FROM ledger.pending ORDER BY held_since, pending_id LIMIT $1
        """,
        limit,
    )


async def rejections_past(
    conn: asyncpg.Connection, cursor: Cursor, limit: int
) -> list[tuple[Cursor, Rejection]]:
    """The next ``limit`` rejections past a cursor (tx, rejection_id) in commit order, of
    transactions that have ended, each with its cursor, as ``ledger.rejected`` carries them
    (services.common.event_store: why not "rejection_id > the last one")."""
    rows = await conn.fetch(
        f"""
        SELECT tx, rejection_id, reason, field, message, source_topic, source_partition,
               source_offset, received_at, event_id, department, raw
        FROM ledger.rejections
        WHERE (tx, rejection_id) > ($1::xid8, $2::bigint) AND {FINISHED}
        ORDER BY tx, rejection_id LIMIT $3
        """,
        cursor.tx,
        cursor.position,
        limit,
    )
    return [
        (
            Cursor(int(row["tx"]), row["rejection_id"]),
            Rejection(
                rejection_id=row["rejection_id"],
                reason=row["reason"],
                field=row["field"],
                message=row["message"],
                source_topic=row["source_topic"],
                source_partition=row["source_partition"],
                source_offset=row["source_offset"],
                received_at=row["received_at"],
                event_id=row["event_id"],
                department=row["department"],
                original_b64=base64.b64encode(bytes(row["raw"])).decode(),
            ),
        )
        for row in rows
    ]
