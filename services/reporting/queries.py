"""Read-only queries over the performance projections. Every query sums daily buckets up
to a day, so its cost depends on days and dimensions, never on the number of events.

Table names are unqualified: the connection's search_path names the projection schema (the
live ``performance``, or a snapshot a replay kept)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.performance.projector import CASE_COUNTS, LINE_MEASURES

END_OF_TIME = date(9999, 12, 31)

_LINE_SUMS = ", ".join(f"coalesce(sum(d.{m}), 0) AS {m}" for m in LINE_MEASURES)
_CASE_SUMS = ", ".join(f"coalesce(sum({c}), 0)::int AS {c}" for c in CASE_COUNTS)
_CASE_PERIOD_TOTALS = ", ".join(
    f"sum({c}) FILTER (WHERE day >= k.since) AS {c}" for c in CASE_COUNTS
)


# A batch of evaluations, one row per (evaluation, department) pair: an evaluation of a
# department with its subunits covers several departments. Rows carry the evaluation's
# position k.i (0-based) so that one query answers every evaluation of the batch.
_EVALUATIONS = """k (i, department, fiscal_year, day) AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::date[]))"""

Evaluation = tuple[list[str], int, date]  # (departments, fiscal year, as-of day)


def _evaluation_args(evaluations: list[Evaluation]) -> list[list[Any]]:
    pairs = [(i, code, year, day) for i, (codes, year, day) in enumerate(evaluations)
             for code in codes]  # fmt: skip
    return [list(column) for column in zip(*pairs, strict=True)] if pairs else [[], [], [], []]


def _per_evaluation(rows: list[asyncpg.Record], n: int) -> list[list[asyncpg.Record]]:
    found: list[list[asyncpg.Record]] = [[] for _ in range(n)]
    for row in rows:
        found[row["i"]].append(row)
    return found


async def departments_known(
    conn: asyncpg.Connection, codes: list[str]
) -> dict[str, dict[str, Any]]:
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


async def with_data(conn: asyncpg.Connection, evaluations: list[Evaluation]) -> set[int]:
    """Positions of the evaluations whose departments have lines or cases in the year."""
    rows = await conn.fetch(
        f"""
        WITH {_EVALUATIONS}
        SELECT DISTINCT k.i FROM k
        WHERE EXISTS (SELECT 1 FROM lines l
                      WHERE l.department = k.department AND l.fiscal_year = k.fiscal_year)
           OR EXISTS (SELECT 1 FROM case_daily c
                      WHERE c.department = k.department AND c.fiscal_year = k.fiscal_year)
        """,
        *_evaluation_args(evaluations),
    )
    return {row["i"] for row in rows}


async def line_ids(conn: asyncpg.Connection, codes: list[str], fiscal_year: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT line_id FROM lines
           WHERE department = ANY($1::text[]) AND fiscal_year = $2 ORDER BY category, line_id""",
        codes,
        fiscal_year,
    )
    return [row["line_id"] for row in rows]


async def lines_by_id(conn: asyncpg.Connection, line_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM lines WHERE line_id = ANY($1::text[])", line_ids)
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
        LEFT JOIN line_daily d ON d.line_id = k.line_id AND d.day <= k.day
        GROUP BY k.i ORDER BY k.i
        """,
        ids,
        days,
    )
    spending = await conn.fetch(
        f"""
        SELECT k.i, {_SPENDING_SPLIT} FROM {_KEYS}
        JOIN line_spending_daily s ON s.line_id = k.line_id AND s.day <= k.day
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
        "SELECT * FROM targets WHERE line_id = ANY($1::text[]) ORDER BY target_id",
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
        JOIN outputs_daily o ON o.line_id = k.line_id AND o.day <= k.day
        GROUP BY k.i, o.indicator, o.unit ORDER BY k.i, o.indicator, o.unit
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    found: list[list[dict[str, Any]]] = [[] for _ in keys]
    for row in rows:
        found[row["i"] - 1].append(dict(row))
    return found


async def department_budgets(
    conn: asyncpg.Connection, evaluations: list[Evaluation]
) -> list[dict[str, Any]]:
    args = _evaluation_args(evaluations)
    by_category = await conn.fetch(
        f"""
        WITH {_EVALUATIONS}
        SELECT k.i, l.category AS key, {_LINE_SUMS},
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
        WITH {_EVALUATIONS}
        SELECT k.i, {_SPENDING_SPLIT}
        FROM k JOIN lines l
            ON l.department = k.department AND l.fiscal_year = k.fiscal_year
        JOIN line_spending_daily s ON s.line_id = l.line_id AND s.day <= k.day
        GROUP BY GROUPING SETS ((k.i, s.economic_class), (k.i, s.spending_department))
        ORDER BY 1, 2, 3
        """,
        *args,
    )
    budgets = []
    n = len(evaluations)
    for categories, spent in zip(
        _per_evaluation(by_category, n), _per_evaluation(spending, n), strict=True
    ):

        def total(column: str, rows: list[asyncpg.Record] = categories) -> Decimal:
            return sum((row[column] for row in rows), Decimal(0))

        budgets.append(
            {
                "sums": {m: total(m) for m in LINE_MEASURES},
                "sangong": (total("sangong_budget"), total("sangong_spent")),
                "by_category": [(row["key"], row["spent"]) for row in categories],
                **_split_spending(spent),
            }
        )
    return budgets


# overdue cases by how many days past their deadline they are at the day asked
OVERDUE_AGES = {"up_to_3": (0, 3), "from_4_to_10": (4, 10), "from_11_to_30": (11, 30),
                "over_30": (31, None)}  # fmt: skip
DEADLINE_COUNTS = ("due", "due_closed", "overdue", *(f"overdue_{a}" for a in OVERDUE_AGES))
_OVERDUE = "c.deadline_day <= k.day AND c.closed_day > k.day"
_OVERDUE_BY_AGE = ", ".join(
    f"coalesce(sum(c.cases) FILTER (WHERE {_OVERDUE} AND k.day - c.deadline_day >= {low}"
    + ("" if high is None else f" AND k.day - c.deadline_day <= {high}")
    + f"), 0)::int AS overdue_{name}"
    for name, (low, high) in OVERDUE_AGES.items()
)


async def department_cases(
    conn: asyncpg.Connection, evaluations: list[Evaluation], since: list[date] | None = None
) -> list[dict[str, list[dict[str, Any]]]]:
    """Per evaluation: case counts per dimension (channel, category, kind, assignee) and value.

    Counts of stages (reported ... closed, closed on time) are those of the period from the
    evaluation's ``since`` day (default: ever) to its day; ``due`` counts the filed cases that
    fell due in the period (deadline reached or closed, whichever came first; over a whole
    year this is CONTRACT.md's ``due``) and ``due_closed`` those of them closed by the day;
    ``open`` and ``overdue`` are the backlog at the day. A case counts for the assignee that
    holds it at the day."""
    args = [*_evaluation_args(evaluations), since or [date.min] * len(evaluations)]
    # k.i numbers the evaluations, and since is per evaluation
    keys = f"""{_EVALUATIONS},
    s (i, since) AS (SELECT i - 1, since FROM unnest($5::date[]) WITH ORDINALITY AS u(since, i)),
    ks AS (SELECT k.*, s.since FROM k JOIN s USING (i))"""
    # per department (LATERAL: the plain filtered scan, as fast as for one department),
    # then summed over the departments of each evaluation
    rows = await conn.fetch(
        f"""
        WITH {keys}
        SELECT k.i, c.dimension, c.value, {_CASE_SUMS}, coalesce(sum(c.open), 0)::int AS open
        FROM ks k, LATERAL (
            SELECT dimension, value, {_CASE_PERIOD_TOTALS},
                   sum(accepted - closed_accepted) AS open
            FROM case_daily
            WHERE department = k.department AND fiscal_year = k.fiscal_year AND day <= k.day
            GROUP BY dimension, value) c
        GROUP BY k.i, c.dimension, c.value ORDER BY k.i, c.dimension, c.value
        """,
        *args,
    )
    deadlines = await conn.fetch(
        f"""
        WITH {keys}
        SELECT k.i, c.dimension, c.value,
               coalesce(sum(c.cases) FILTER (WHERE least(c.deadline_day, c.closed_day)
                                              BETWEEN k.since AND k.day), 0)::int AS due,
               coalesce(sum(c.cases) FILTER (WHERE least(c.deadline_day, c.closed_day)
                                              BETWEEN k.since AND k.day
                                              AND c.closed_day <= k.day), 0)::int AS due_closed,
               coalesce(sum(c.cases) FILTER (WHERE {_OVERDUE}), 0)::int AS overdue,
               {_OVERDUE_BY_AGE}
        FROM ks k JOIN case_deadlines c ON c.department = k.department
            AND c.fiscal_year = k.fiscal_year AND c.since_day <= k.day
        GROUP BY k.i, c.dimension, c.value
        """,
        *args,
    )
    by_value = {(r["i"], r["dimension"], r["value"]): r for r in deadlines}
    found: list[dict[str, list[dict[str, Any]]]] = [
        {"channel": [], "category": [], "kind": [], "assignee": []} for _ in evaluations
    ]
    for row in rows:
        deadline = by_value.get((row["i"], row["dimension"], row["value"]))
        counts = dict.fromkeys(DEADLINE_COUNTS, 0) | dict(row) | dict(deadline or {})
        found[row["i"]][row["dimension"]].append(counts)
    return found


# spending by economic class and by spending department, in one query (grouping sets)
_SPENDING_SPLIT = "s.economic_class, s.spending_department, sum(s.spent) AS spent"


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


async def department_targets(
    conn: asyncpg.Connection, departments: list[tuple[str, int]]
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


async def department_outputs(
    conn: asyncpg.Connection, evaluations: list[Evaluation]
) -> list[list[dict[str, Any]]]:
    """Per evaluation: every output its departments recorded up to the day."""
    rows = await conn.fetch(
        f"""
        WITH {_EVALUATIONS}
        SELECT k.i, o.indicator, o.unit, sum(o.quantity) AS quantity
        FROM k JOIN outputs_daily o ON o.department = k.department
            AND o.fiscal_year = k.fiscal_year AND o.day <= k.day
        GROUP BY k.i, o.indicator, o.unit ORDER BY k.i, o.indicator, o.unit
        """,
        *_evaluation_args(evaluations),
    )
    return [[dict(r) for r in group] for group in _per_evaluation(rows, len(evaluations))]


async def monthly(
    conn: asyncpg.Connection, codes: list[str], fiscal_year: int, as_of: date
) -> list[dict[str, Any]]:
    """Per month up to a day: the budget and case counts of that month."""
    rows = await conn.fetch(
        """
        WITH budget AS (
            SELECT date_trunc('month', d.day)::date AS month, sum(d.adjusted_budget) AS adjusted,
                   sum(d.arrived) AS arrived, sum(d.spent) AS spent
            FROM lines l JOIN line_daily d USING (line_id)
            WHERE l.department = ANY($1::text[]) AND l.fiscal_year = $2 AND d.day <= $3 GROUP BY 1),
        cases AS (
            SELECT date_trunc('month', day)::date AS month, sum(accepted)::int AS accepted,
                   sum(closed)::int AS closed
            FROM case_daily
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


async def assessment_schemes(
    conn: asyncpg.Connection, department: str, periods: list[tuple[int, int, date]]
) -> list[dict[str, Any] | None]:
    """Per (fiscal year, month, day): the scheme scoring the month as of the day, the last
    recorded by then whose effective month has begun; None where there is none."""
    rows = await conn.fetch(
        """
        SELECT k.i, s.effective_month, s.indicators, s.document
        FROM unnest($2::int[], $3::int[], $4::date[]) WITH ORDINALITY AS k(fiscal_year, month,
                                                                          day, i),
        LATERAL (SELECT * FROM assessment_schemes s
                 WHERE s.department = $1 AND s.fiscal_year = k.fiscal_year
                   AND s.effective_month <= k.month AND s.set_day <= k.day
                 ORDER BY s.position DESC LIMIT 1) s
        """,
        department,
        *(list(column) for column in zip(*periods, strict=True)),
    )
    found: list[dict[str, Any] | None] = [None] * len(periods)
    for row in rows:
        found[row["i"] - 1] = {**dict(row), "indicators": json.loads(row["indicators"])}
    return found
