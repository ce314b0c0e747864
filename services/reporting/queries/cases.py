"""Queries of cases: counts per dimension and value, and the assessment schemes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from services.common.projections import CASE_COUNTS
from services.reporting.case_figures import DEADLINE_COUNTS, OVERDUE_AGES
from services.reporting.queries.batch import EVALUATIONS, Evaluation, evaluation_args

_CASE_SUMS = ", ".join(f"coalesce(sum({c}), 0)::int AS {c}" for c in CASE_COUNTS)
_CASE_PERIOD_TOTALS = ", ".join(
    f"sum({c}) FILTER (WHERE day >= k.since) AS {c}" for c in CASE_COUNTS
)
_OVERDUE = "c.deadline_day <= k.day AND c.closed_day > k.day"
_OVERDUE_BY_AGE = ", ".join(
    f"coalesce(sum(c.cases) FILTER (WHERE {_OVERDUE} AND k.day - c.deadline_day >= {low}"
    + ("" if high is None else f" AND k.day - c.deadline_day <= {high}")
    + f"), 0)::int AS overdue_{name}"
    for name, (low, high) in OVERDUE_AGES.items()
)
# k.i numbers the evaluations, and since ($5) is per evaluation
_KEYS_SINCE = f"""{EVALUATIONS},
    s (i, since) AS (SELECT i - 1, since FROM unnest($5::date[]) WITH ORDINALITY AS u(since, i)),
    ks AS (SELECT k.*, s.since FROM k JOIN s USING (i))"""
# per department (LATERAL: the plain filtered scan, as fast as for one department),
# then summed over the departments of each evaluation
_STAGES = f"""
    WITH {_KEYS_SINCE}
    SELECT k.i, c.dimension, c.value, {_CASE_SUMS}, coalesce(sum(c.open), 0)::int AS open
    FROM ks k, LATERAL (
        SELECT dimension, value, {_CASE_PERIOD_TOTALS},
               sum(accepted - closed_accepted) AS open
        FROM case_daily
        WHERE department = k.department AND fiscal_year = k.fiscal_year AND day <= k.day
        GROUP BY dimension, value) c
    GROUP BY k.i, c.dimension, c.value ORDER BY k.i, c.dimension, c.value
    """
_DEADLINES = f"""
    WITH {_KEYS_SINCE}
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
    """


async def department_cases(
    conn: asyncpg.Connection, evaluations: Sequence[Evaluation], since: list[date] | None = None
) -> list[dict[str, list[dict[str, Any]]]]:
    """Per evaluation: case counts per dimension (channel, category, kind, assignee) and value.

    Counts of stages (reported ... closed, closed on time) are those of the period from the
    evaluation's ``since`` day (default: ever) to its day; ``due`` counts the filed cases that
    fell due in the period (deadline reached or closed, whichever came first; over a whole
    year this is docs/contract.md's ``due``) and ``due_closed`` those of them closed by the day;
    ``open`` and ``overdue`` are the backlog at the day. A case counts for the assignee that
    holds it at the day."""
    args = [*evaluation_args(evaluations), since or [date.min] * len(evaluations)]
    rows = await conn.fetch(_STAGES, *args)
    deadlines = await conn.fetch(_DEADLINES, *args)
    by_value = {(r["i"], r["dimension"], r["value"]): r for r in deadlines}
    found: list[dict[str, list[dict[str, Any]]]] = [
        {"channel": [], "category": [], "kind": [], "assignee": []} for _ in evaluations
    ]
    for row in rows:
        deadline = by_value.get((row["i"], row["dimension"], row["value"]))
        counts = dict.fromkeys(DEADLINE_COUNTS, 0) | dict(row) | dict(deadline or {})
        found[row["i"]][row["dimension"]].append(counts)
    return found


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
