"""Read-only queries over the performance projections. Every query sums daily buckets up
to a day, so its cost depends on days and dimensions, never on the number of events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.performance.projector import CASE_COUNTS, LINE_MEASURES

END_OF_TIME = date(9999, 12, 31)

_LINE_SUMS = ", ".join(f"coalesce(sum(d.{m}), 0) AS {m}" for m in LINE_MEASURES)
_CASE_SUMS = ", ".join(f"coalesce(sum({c}), 0)::int AS {c}" for c in CASE_COUNTS)


async def department(conn: asyncpg.Connection, code: str) -> dict[str, Any] | None:
    """The department's registration; None if nothing at all is known of it."""
    row = await conn.fetchrow(
        """
        SELECT (SELECT name FROM performance.departments WHERE code = $1) AS name,
               EXISTS (SELECT 1 FROM performance.departments WHERE code = $1)
            OR EXISTS (SELECT 1 FROM performance.lines WHERE department = $1)
            OR EXISTS (SELECT 1 FROM performance.case_daily WHERE department = $1) AS known
        """,
        code,
    )
    return {"name": row["name"]} if row["known"] else None


async def has_year(conn: asyncpg.Connection, code: str, fiscal_year: int) -> bool:
    return bool(
        await conn.fetchval(
            """
            SELECT EXISTS (SELECT 1 FROM performance.lines
                           WHERE department = $1 AND fiscal_year = $2)
                OR EXISTS (SELECT 1 FROM performance.case_daily
                           WHERE department = $1 AND fiscal_year = $2)
            """,
            code,
            fiscal_year,
        )
    )


async def line(conn: asyncpg.Connection, line_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM performance.lines WHERE line_id = $1", line_id)
    return dict(row) if row else None


async def line_budget(conn: asyncpg.Connection, line_id: str, as_of: date) -> dict[str, Any]:
    sums = await conn.fetchrow(
        f"SELECT {_LINE_SUMS} FROM performance.line_daily d WHERE d.line_id = $1 AND d.day <= $2",
        line_id,
        as_of,
    )
    by_class = await conn.fetch(
        """
        SELECT economic_class AS key, sum(spent) AS spent FROM performance.line_spending_daily
        WHERE line_id = $1 AND day <= $2 GROUP BY economic_class ORDER BY economic_class
        """,
        line_id,
        as_of,
    )
    return {"sums": dict(sums), "by_economic_class": _pairs(by_class)}


async def department_budget(
    conn: asyncpg.Connection, code: str, fiscal_year: int, as_of: date
) -> dict[str, Any]:
    by_category = await conn.fetch(
        f"""
        SELECT l.category AS key, {_LINE_SUMS}
        FROM performance.lines l JOIN performance.line_daily d USING (line_id)
        WHERE l.department = $1 AND l.fiscal_year = $2 AND d.day <= $3
        GROUP BY l.category ORDER BY l.category
        """,
        code,
        fiscal_year,
        as_of,
    )
    by_class = await conn.fetch(
        """
        SELECT s.economic_class AS key, sum(s.spent) AS spent
        FROM performance.lines l JOIN performance.line_spending_daily s USING (line_id)
        WHERE l.department = $1 AND l.fiscal_year = $2 AND s.day <= $3
        GROUP BY s.economic_class ORDER BY s.economic_class
        """,
        code,
        fiscal_year,
        as_of,
    )
    sums = {m: sum((row[m] for row in by_category), Decimal(0)) for m in LINE_MEASURES}
    return {
        "sums": sums,
        "by_category": [(row["key"], row["spent"]) for row in by_category],
        "by_economic_class": _pairs(by_class),
    }


async def department_cases(
    conn: asyncpg.Connection, code: str, fiscal_year: int, as_of: date
) -> dict[str, list[dict[str, Any]]]:
    """Case counts per dimension ('channel', 'category', 'kind') and value."""
    rows = await conn.fetch(
        f"""
        SELECT dimension, value, {_CASE_SUMS} FROM performance.case_daily
        WHERE department = $1 AND fiscal_year = $2 AND day <= $3
        GROUP BY dimension, value ORDER BY dimension, value
        """,
        code,
        fiscal_year,
        as_of,
    )
    deadlines = await conn.fetch(
        """
        SELECT dimension, value,
               coalesce(sum(cases) FILTER (WHERE deadline_day <= $3), 0)::int AS due_by_deadline,
               coalesce(sum(cases) FILTER (WHERE closed_day <= $3 AND deadline_day > $3), 0)::int
                   AS closed_before_deadline,
               coalesce(sum(cases) FILTER (WHERE deadline_day <= $3 AND closed_day > $3), 0)::int
                   AS overdue
        FROM performance.case_deadlines
        WHERE department = $1 AND fiscal_year = $2
        GROUP BY dimension, value
        """,
        code,
        fiscal_year,
        as_of,
    )
    by_value = {(r["dimension"], r["value"]): r for r in deadlines}
    grouped: dict[str, list[dict[str, Any]]] = {"channel": [], "category": [], "kind": []}
    for row in rows:
        counts = dict(row)
        deadline = by_value.get((row["dimension"], row["value"]))
        # due: filed cases whose deadline is on or before T, plus those closed by T whose
        # deadline is later (CONTRACT.md section 4)
        counts["due"] = counts["overdue"] = 0
        if deadline:
            counts["due"] = deadline["due_by_deadline"] + deadline["closed_before_deadline"]
            counts["overdue"] = deadline["overdue"]
        grouped[row["dimension"]].append(counts)
    return grouped


def _pairs(rows: list[asyncpg.Record]) -> list[tuple[str, Decimal]]:
    return [(row["key"], row["spent"]) for row in rows]
