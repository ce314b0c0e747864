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
    """The department's registration (all None if unregistered); None if nothing is known."""
    row = await conn.fetchrow(
        """
        SELECT d.name, d.parent, d.headcount_authorised, d.headcount_actual
        FROM (SELECT $1::text AS code) k LEFT JOIN performance.departments d USING (code)
        WHERE d.code IS NOT NULL
           OR EXISTS (SELECT 1 FROM performance.lines WHERE department = $1)
           OR EXISTS (SELECT 1 FROM performance.case_daily WHERE department = $1)
        """,
        code,
    )
    return dict(row) if row else None


async def subunits(conn: asyncpg.Connection, code: str) -> list[str]:
    """Every registered unit under a department (its children, their children, ...)."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE tree AS (
            SELECT code FROM performance.departments WHERE parent = $1
            UNION SELECT d.code FROM performance.departments d JOIN tree t ON d.parent = t.code)
        SELECT code FROM tree ORDER BY code
        """,
        code,
    )
    return [row["code"] for row in rows]


async def has_year(conn: asyncpg.Connection, codes: list[str], fiscal_year: int) -> bool:
    return bool(
        await conn.fetchval(
            """
            SELECT EXISTS (SELECT 1 FROM performance.lines
                           WHERE department = ANY($1::text[]) AND fiscal_year = $2)
                OR EXISTS (SELECT 1 FROM performance.case_daily
                           WHERE department = ANY($1::text[]) AND fiscal_year = $2)
            """,
            codes,
            fiscal_year,
        )
    )


async def line_ids(conn: asyncpg.Connection, codes: list[str], fiscal_year: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT line_id FROM performance.lines
           WHERE department = ANY($1::text[]) AND fiscal_year = $2 ORDER BY category, line_id""",
        codes,
        fiscal_year,
    )
    return [row["line_id"] for row in rows]


async def lines_by_id(conn: asyncpg.Connection, line_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM performance.lines WHERE line_id = ANY($1::text[])", line_ids
    )
    return {row["line_id"]: dict(row) for row in rows}


# Each (line, day) key of a batch is numbered by its position: k.i (1-based).
_KEYS = "unnest($1::text[], $2::date[]) WITH ORDINALITY AS k(line_id, day, i)"


async def lines_budget(
    conn: asyncpg.Connection, keys: list[tuple[str, date]]
) -> list[dict[str, Any]]:
    """For each (line, day): its sums, and its spending by class and by spender."""
    ids, days = [k[0] for k in keys], [k[1] for k in keys]
    sums = await conn.fetch(
        f"""
        SELECT k.i, {_LINE_SUMS} FROM {_KEYS}
        LEFT JOIN performance.line_daily d ON d.line_id = k.line_id AND d.day <= k.day
        GROUP BY k.i ORDER BY k.i
        """,
        ids,
        days,
    )
    spending = await conn.fetch(
        f"""
        SELECT k.i, {_SPENDING_SPLIT} FROM {_KEYS}
        JOIN performance.line_spending_daily s ON s.line_id = k.line_id AND s.day <= k.day
        GROUP BY GROUPING SETS ((k.i, s.economic_class), (k.i, s.spending_department))
        ORDER BY 1, 2, 3
        """,
        ids,
        days,
    )
    by_key: dict[int, list[asyncpg.Record]] = {}
    for row in spending:
        by_key.setdefault(row["i"], []).append(row)
    return [
        {"sums": {m: row[m] for m in LINE_MEASURES}, **_split_spending(by_key.get(row["i"], []))}
        for row in sums
    ]


async def lines_targets(
    conn: asyncpg.Connection, line_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    rows = await conn.fetch(
        "SELECT * FROM performance.targets WHERE line_id = ANY($1::text[]) ORDER BY target_id",
        line_ids,
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["line_id"], []).append(dict(row))
    return found


async def lines_outputs(
    conn: asyncpg.Connection, keys: list[tuple[str, date]]
) -> list[list[dict[str, Any]]]:
    """For each (line, day): the outputs recorded on the line up to the day."""
    rows = await conn.fetch(
        f"""
        SELECT k.i, o.indicator, o.unit, sum(o.quantity) AS quantity FROM {_KEYS}
        JOIN performance.outputs_daily o ON o.line_id = k.line_id AND o.day <= k.day
        GROUP BY k.i, o.indicator, o.unit ORDER BY k.i, o.indicator, o.unit
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    found: list[list[dict[str, Any]]] = [[] for _ in keys]
    for row in rows:
        found[row["i"] - 1].append(dict(row))
    return found


async def department_budget(
    conn: asyncpg.Connection, codes: list[str], fiscal_year: int, as_of: date
) -> dict[str, Any]:
    by_category = await conn.fetch(
        f"""
        SELECT l.category AS key, {_LINE_SUMS},
               coalesce(sum(d.adjusted_budget) FILTER (WHERE l.sangong IS NOT NULL), 0)
                   AS sangong_budget,
               coalesce(sum(d.spent) FILTER (WHERE l.sangong IS NOT NULL), 0) AS sangong_spent
        FROM performance.lines l JOIN performance.line_daily d USING (line_id)
        WHERE l.department = ANY($1::text[]) AND l.fiscal_year = $2 AND d.day <= $3
        GROUP BY l.category ORDER BY l.category
        """,
        codes,
        fiscal_year,
        as_of,
    )
    spending = await conn.fetch(
        f"""
        SELECT {_SPENDING_SPLIT}
        FROM performance.lines l JOIN performance.line_spending_daily s USING (line_id)
        WHERE l.department = ANY($1::text[]) AND l.fiscal_year = $2 AND s.day <= $3
        {_SPENDING_GROUPS}
        """,
        codes,
        fiscal_year,
        as_of,
    )

    def total(column: str) -> Decimal:
        return sum((row[column] for row in by_category), Decimal(0))

    return {
        "sums": {m: total(m) for m in LINE_MEASURES},
        "sangong": (total("sangong_budget"), total("sangong_spent")),
        "by_category": [(row["key"], row["spent"]) for row in by_category],
        **_split_spending(spending),
    }


async def department_cases(
    conn: asyncpg.Connection, codes: list[str], fiscal_year: int, as_of: date
) -> dict[str, list[dict[str, Any]]]:
    """Case counts per dimension ('channel', 'category', 'kind', 'assignee') and value."""
    rows = await conn.fetch(
        f"""
        SELECT dimension, value, {_CASE_SUMS} FROM performance.case_daily
        WHERE department = ANY($1::text[]) AND fiscal_year = $2 AND day <= $3
        GROUP BY dimension, value ORDER BY dimension, value
        """,
        codes,
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
        WHERE department = ANY($1::text[]) AND fiscal_year = $2 AND since_day <= $3
        GROUP BY dimension, value
        """,
        codes,
        fiscal_year,
        as_of,
    )
    by_value = {(r["dimension"], r["value"]): r for r in deadlines}
    grouped: dict[str, list[dict[str, Any]]] = {
        "channel": [],
        "category": [],
        "kind": [],
        "assignee": [],
    }
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


# spending by economic class and by spending department, in one query (grouping sets)
_SPENDING_SPLIT = "s.economic_class, s.spending_department, sum(s.spent) AS spent"
_SPENDING_GROUPS = (
    "GROUP BY GROUPING SETS ((s.economic_class), (s.spending_department)) ORDER BY 1, 2"
)


def _split_spending(rows: list[asyncpg.Record]) -> dict[str, list[tuple[str, Decimal]]]:
    return {
        "by_economic_class": [
            (r["economic_class"], r["spent"]) for r in rows if r["economic_class"] is not None
        ],
        "by_spending_department": [
            (r["spending_department"], r["spent"])
            for r in rows
            if r["spending_department"] is not None
        ],
    }


async def departments(conn: asyncpg.Connection, fiscal_year: int | None) -> list[dict[str, Any]]:
    """Registered departments, and those known by their lines or cases (in the year)."""
    rows = await conn.fetch(
        """
        WITH known AS (
            SELECT code FROM performance.departments
            UNION SELECT department FROM performance.lines
            UNION SELECT DISTINCT department FROM performance.case_daily)
        SELECT k.code, d.name, d.parent, d.headcount_authorised, d.headcount_actual
        FROM known k LEFT JOIN performance.departments d USING (code)
        WHERE $1::int IS NULL OR d.code IS NOT NULL
           OR EXISTS (SELECT 1 FROM performance.lines l
                      WHERE l.department = k.code AND l.fiscal_year = $1)
           OR EXISTS (SELECT 1 FROM performance.case_daily c
                      WHERE c.department = k.code AND c.fiscal_year = $1)
        ORDER BY k.code
        """,
        fiscal_year,
    )
    return [dict(row) for row in rows]


async def targets(conn: asyncpg.Connection, code: str, fiscal_year: int) -> list[dict[str, Any]]:
    """The department's own targets (those of its lines belong to the lines)."""
    rows = await conn.fetch(
        """
        SELECT * FROM performance.targets
        WHERE department = $1 AND fiscal_year = $2 AND line_id IS NULL ORDER BY target_id
        """,
        code,
        fiscal_year,
    )
    return [dict(row) for row in rows]


async def outputs(
    conn: asyncpg.Connection, codes: list[str], fiscal_year: int, as_of: date
) -> list[dict[str, Any]]:
    """Every output the departments recorded up to a day (on their lines or not)."""
    rows = await conn.fetch(
        """
        SELECT indicator, unit, sum(quantity) AS quantity FROM performance.outputs_daily
        WHERE department = ANY($1::text[]) AND fiscal_year = $2 AND day <= $3
        GROUP BY indicator, unit ORDER BY indicator, unit
        """,
        codes,
        fiscal_year,
        as_of,
    )
    return [dict(row) for row in rows]


async def monthly(
    conn: asyncpg.Connection, codes: list[str], fiscal_year: int, as_of: date
) -> list[dict[str, Any]]:
    """Per month up to a day: the budget and case counts of that month."""
    rows = await conn.fetch(
        """
        WITH budget AS (
            SELECT date_trunc('month', d.day)::date AS month, sum(d.adjusted_budget) AS adjusted,
                   sum(d.arrived) AS arrived, sum(d.spent) AS spent
            FROM performance.lines l JOIN performance.line_daily d USING (line_id)
            WHERE l.department = ANY($1::text[]) AND l.fiscal_year = $2 AND d.day <= $3 GROUP BY 1),
        cases AS (
            SELECT date_trunc('month', day)::date AS month, sum(accepted)::int AS accepted,
                   sum(closed)::int AS closed
            FROM performance.case_daily
            WHERE department = ANY($1::text[]) AND fiscal_year = $2 AND dimension = 'kind'
              AND day <= $3
            GROUP BY 1)
        SELECT month, coalesce(b.adjusted, 0) AS adjusted, coalesce(b.arrived, 0) AS arrived,
               coalesce(b.spent, 0) AS spent, coalesce(c.accepted, 0) AS accepted,
               coalesce(c.closed, 0) AS closed
        FROM budget b FULL JOIN cases c USING (month) ORDER BY month
        """,
        codes,
        fiscal_year,
        as_of,
    )
    return [dict(row) for row in rows]
