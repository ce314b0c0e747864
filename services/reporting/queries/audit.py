"""The operators' actions, as the CLIs recorded them (``ledger.operator_actions``, written by
the ledger's and performance's operator commands; the gateway only reads it)."""

from __future__ import annotations

from typing import Any

import asyncpg


async def actions(
    conn: asyncpg.Connection,
    fiscal_year: int | None,
    departments: frozenset[str] | None,
    first: int,
) -> list[dict[str, Any]]:
    """Newest first; with ``departments`` (not all), only actions on one of them."""
    rows = await conn.fetch(
        """
        SELECT action_id, actor, action, arguments::text AS arguments, department, fiscal_year,
               outcome, detail, started_at, finished_at
        FROM ledger.operator_actions
        WHERE ($1::int IS NULL OR fiscal_year = $1)
          AND ($2::text[] IS NULL OR department = ANY($2::text[]))
        ORDER BY action_id DESC
        LIMIT $3
        """,
        fiscal_year,
        None if departments is None else sorted(departments),
        first,
    )
    return [dict(row) for row in rows]
