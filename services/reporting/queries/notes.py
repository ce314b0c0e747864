"""What evaluators wrote (evaluation.events, projected): deviation notes, goals, signatures."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


async def deviation_notes(conn: asyncpg.Connection, department: str, year: int) -> dict[str, str]:
    """The latest note on each target of the department's year, by target id."""
    rows = await conn.fetch(
        "SELECT target_id, text FROM deviation_notes WHERE department = $1 AND fiscal_year = $2",
        department, year,
    )  # fmt: skip
    return {row["target_id"]: row["text"] for row in rows}


async def goal(
    conn: asyncpg.Connection, department: str, year: int, line_id: str | None
) -> dict[str, Any] | None:
    """The latest goal of the department's year ('' as line_id) or of one of its lines."""
    row = await conn.fetchrow(
        """SELECT expected, actual FROM goals
           WHERE department = $1 AND fiscal_year = $2 AND line_id = $3""",
        department, year, line_id or "",
    )  # fmt: skip
    return None if row is None else dict(row)


async def signatures(
    conn: asyncpg.Connection, department: str, year: int, line_id: str | None
) -> list[dict[str, Any]]:
    """The signatures of a department's year (its own and its lines'), or of one line, in the
    order they were signed."""
    rows = await conn.fetch(
        """SELECT line_id, as_of, signer, signed_at, figures, digest FROM signatures
           WHERE department = $1 AND fiscal_year = $2 AND ($3::text IS NULL OR line_id = $3)
           ORDER BY position""",
        department, year, line_id,
    )  # fmt: skip
    return [{**dict(row), "figures": json.loads(row["figures"])} for row in rows]


async def target_owners(conn: asyncpg.Connection, target_id: str) -> list[dict[str, Any]]:
    """The departments (and years) that set a target of this id."""
    rows = await conn.fetch(
        "SELECT department, fiscal_year FROM targets WHERE target_id = $1 ORDER BY department",
        target_id,
    )
    return [dict(row) for row in rows]
