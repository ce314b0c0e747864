"""How far the ledger is, for the launcher's and the benchmarks' waits."""

from __future__ import annotations

import asyncpg


async def progress(conn: asyncpg.Connection) -> dict[str, int]:
    """Events accepted, records rejected, and the sum over departments of each one's last
    position (what the projections have applied when their own sum is equal)."""
    row = await conn.fetchrow(
        """
        SELECT (SELECT count(*) FROM ledger.events) AS accepted,
               (SELECT count(*) FROM ledger.rejections) AS rejected,
               (SELECT coalesce(sum(position), 0) FROM (
                    SELECT max(position) AS position FROM ledger.events GROUP BY department
               ) last) AS ledger_by_department
        """
    )
    return dict(row)  # type: ignore[arg-type]
