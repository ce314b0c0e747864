"""Queries of department evaluations: registrations, budgets, outputs, targets, months."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from services.common.projections import LINE_MEASURES
from services.reporting.queries.batch import (
    EVALUATIONS,
    LINE_SUMS,
    SPENDING_SPLIT,
    Evaluation,
    evaluation_args,
    per_evaluation,
    split_spending,
)


async def known(conn: asyncpg.Connection, codes: list[str]) -> dict[str, dict[str, Any]]:
    """The registration (all None if unregistered) of each department anything is known of."""
    rows = await conn.fetch(
        """
        SELECT k.code, d.name, d.parent, d.headcount_authorised, d.headcount_actual
        FROM unnest($1::text[]) AS k(code) LEFT JOIN departments d USING (code)
        WHERE d.code IS NOT NULL
           OR EXISTS (SELECT 1 FROM lines l WHERE l.department = k.code)
           OR EXISTS (SELECT 1 FROM case_daily c WHERE c.department = k.code)
        """,
        codes,
    )
    return {row["code"]: dict(row) for row in rows}


async def subunits(conn: asyncpg.Connection, roots: list[str]) -> dict[str, list[str]]:
    """Every registered unit under each department (its children, their children, ...)."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE tree (root, code) AS (
            SELECT parent, code FROM departments WHERE parent = ANY($1::text[])
            UNION SELECT t.root, d.code FROM departments d
                  JOIN tree t ON d.parent = t.code)
        SELECT root, code FROM tree ORDER BY root, code
        """,
        roots,
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["root"], []).append(row["code"])
    return found


async def with_data(conn: asyncpg.Connection, evaluations: Sequence[Evaluation]) -> set[int]:
    """Positions of the evaluations whose departments have lines or cases in the year."""
    rows = await conn.fetch(
        f"""
        WITH {EVALUATIONS}
        SELECT DISTINCT k.i FROM k
        WHERE EXISTS (SELECT 1 FROM lines l
                      WHERE l.department = k.department AND l.fiscal_year = k.fiscal_year)
           OR EXISTS (SELECT 1 FROM case_daily c
                      WHERE c.department = k.department AND c.fiscal_year = k.fiscal_year)
        """,
        *evaluation_args(evaluations),
    )
    return {row["i"] for row in rows}


async def listed(conn: asyncpg.Connection, fiscal_year: int | None) -> list[dict[str, Any]]:
    """Registered departments, and those known by their lines or cases (in the year)."""
    rows = await conn.fetch(
        """
        WITH known AS (
            SELECT code FROM departments
            UNION SELECT department FROM lines
            UNION SELECT DISTINCT department FROM case_daily)
        SELECT k.code, d.name, d.parent, d.headcount_authorised, d.headcount_actual
        FROM known k LEFT JOIN departments d USING (code)
        WHERE $1::int IS NULL OR d.code IS NOT NULL
           OR EXISTS (SELECT 1 FROM lines l
                      WHERE l.department = k.code AND l.fiscal_year = $1)
           OR EXISTS (SELECT 1 FROM case_daily c
                      WHERE c.department = k.code AND c.fiscal_year = $1)
        ORDER BY k.code
        """,
        fiscal_year,
    )
    return [dict(row) for row in rows]


async def budgets(
    conn: asyncpg.Connection, evaluations: Sequence[Evaluation]
) -> list[dict[str, Any]]:
    """Per evaluation: the sums of its lines, their '三公' part, spending by category, by
    economic class and by spending department."""
    args = evaluation_args(evaluations)
    by_category = await conn.fetch(
        f"""
        WITH {EVALUATIONS}
        SELECT k.i, l.category AS key, {LINE_SUMS},
               coalesce(sum(d.initial_budget) FILTER (WHERE l.sangong IS NOT NULL), 0)
                   AS sangong_budget,
               coalesce(sum(d.spent) FILTER (WHERE l.sangong IS NOT NULL), 0) AS sangong_spent
        FROM k JOIN lines l
            ON l.department = k.department AND l.fiscal_year = k.fiscal_year
        JOIN line_daily d ON d.line_id = l.line_id AND d.day <= k.day
        GROUP BY k.i, l.category ORDER BY k.i, l.category
        """,
        *args,
    )
    spending = await conn.fetch(
        f"""
        WITH {EVALUATIONS}
        SELECT k.i, {SPENDING_SPLIT}
        FROM k JOIN lines l
            ON l.department = k.department AND l.fiscal_year = k.fiscal_year
        JOIN line_spending_daily s ON s.line_id = l.line_id AND s.day <= k.day
        GROUP BY GROUPING SETS ((k.i, s.economic_class), (k.i, s.spending_department))
        ORDER BY 1, 2, 3
        """,
        *args,
    )
    n = len(evaluations)
    return [
        _budget(categories, spent)
        for categories, spent in zip(
            per_evaluation(by_category, n), per_evaluation(spending, n), strict=True
        )
    ]


def _budget(categories: list[asyncpg.Record], spent: list[asyncpg.Record]) -> dict[str, Any]:
    def total(column: str) -> Decimal:
        return sum((row[column] for row in categories), Decimal(0))

    return {
        "sums": {m: total(m) for m in LINE_MEASURES},
        "sangong": (total("sangong_budget"), total("sangong_spent")),
        "by_category": [(row["key"], row["spent"]) for row in categories],
        **split_spending(spent),
    }


async def targets(
    conn: asyncpg.Connection, departments: Sequence[tuple[str, int]]
) -> list[list[dict[str, Any]]]:
    """Per (department, fiscal year): its own targets (those of its lines belong to them)."""
    rows = await conn.fetch(
        """
        SELECT k.i, t.* FROM unnest($1::text[], $2::int[]) WITH ORDINALITY
            AS k(department, fiscal_year, i)
        JOIN targets t ON t.department = k.department
            AND t.fiscal_year = k.fiscal_year AND t.line_id IS NULL
        ORDER BY k.i, t.target_id
        """,
        [d for d, _ in departments],
        [y for _, y in departments],
    )
    found: list[list[dict[str, Any]]] = [[] for _ in departments]
    for row in rows:
        found[row["i"] - 1].append({k: v for k, v in row.items() if k != "i"})
    return found


async def outputs(
    conn: asyncpg.Connection, evaluations: Sequence[Evaluation]
) -> list[list[dict[str, Any]]]:
    """Per evaluation: every output its departments recorded up to the day."""
    rows = await conn.fetch(
        f"""
        WITH {EVALUATIONS}
        SELECT k.i, o.indicator, o.unit, sum(o.quantity) AS quantity
        FROM k JOIN outputs_daily o ON o.department = k.department
            AND o.fiscal_year = k.fiscal_year AND o.day <= k.day
        GROUP BY k.i, o.indicator, o.unit ORDER BY k.i, o.indicator, o.unit
        """,
        *evaluation_args(evaluations),
    )
    return [[dict(r) for r in group] for group in per_evaluation(rows, len(evaluations))]


async def monthly(
    conn: asyncpg.Connection, evaluations: Sequence[Evaluation]
) -> list[list[dict[str, Any]]]:
    """Per evaluation, per month up to its day: the budget and case counts of that month."""
    rows = await conn.fetch(
        f"""
        WITH {EVALUATIONS},
        u AS (SELECT DISTINCT * FROM k),  -- a department counts once per evaluation
        budget AS (
            SELECT u.i, date_trunc('month', d.day)::date AS month,
                   sum(d.adjusted_budget) AS adjusted, sum(d.arrived) AS arrived,
                   sum(d.spent) AS spent
            FROM u JOIN lines l ON l.department = u.department AND l.fiscal_year = u.fiscal_year
            JOIN line_daily d ON d.line_id = l.line_id AND d.day <= u.day
            GROUP BY 1, 2),
        cases AS (
            SELECT u.i, date_trunc('month', c.day)::date AS month,
                   sum(c.accepted)::int AS accepted, sum(c.closed)::int AS closed
            FROM u JOIN case_daily c ON c.department = u.department
                AND c.fiscal_year = u.fiscal_year AND c.dimension = 'kind' AND c.day <= u.day
            GROUP BY 1, 2)
        SELECT i, month, coalesce(b.adjusted, 0) AS adjusted, coalesce(b.arrived, 0) AS arrived,
               coalesce(b.spent, 0) AS spent, coalesce(c.accepted, 0) AS accepted,
               coalesce(c.closed, 0) AS closed
        FROM budget b FULL JOIN cases c USING (i, month) ORDER BY i, month
        """,
        *evaluation_args(evaluations),
    )
    return [[dict(r) for r in group] for group in per_evaluation(rows, len(evaluations))]


async def line_ids(
    conn: asyncpg.Connection, departments: Sequence[tuple[Sequence[str], int]]
) -> list[list[str]]:
    """Per (departments, fiscal year): their lines of the year, by category and id."""
    pairs = [(i, code, year) for i, (codes, year) in enumerate(departments) for code in codes]
    rows = await conn.fetch(
        """
        SELECT DISTINCT k.i, l.category, l.line_id
        FROM unnest($1::int[], $2::text[], $3::int[]) AS k(i, department, fiscal_year)
        JOIN lines l ON l.department = k.department AND l.fiscal_year = k.fiscal_year
        ORDER BY k.i, l.category, l.line_id
        """,
        [i for i, _, _ in pairs],
        [code for _, code, _ in pairs],
        [year for _, _, year in pairs],
    )
    return [[row["line_id"] for row in group] for group in per_evaluation(rows, len(departments))]
