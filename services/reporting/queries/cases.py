"""Queries of cases: counts per dimension and value, and the assessment schemes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from services.common.projections import CASE_COUNTS, DEADLINE_COUNTS
from services.reporting.queries.batch import EVALUATIONS, Evaluation, evaluation_args

_COUNTED = (*CASE_COUNTS, *DEADLINE_COUNTS)
_CASE_SUMS = ", ".join(f"coalesce(sum(c.{c}), 0)::int AS {c}" for c in _COUNTED)
# the stages in the evaluation's period (from since on); the deltas of the deadline figures
# and of the open cases since ever: as of the day, the backlog and the cases due so far
_CASE_TOTALS = ", ".join(
    [f"sum({c}) FILTER (WHERE day >= k.since) AS {c}" for c in CASE_COUNTS]
    + [f"sum({c}) AS {c}" for c in DEADLINE_COUNTS]
)
# k.i numbers the evaluations, and since ($5) is per evaluation
_KEYS_SINCE = f"""{EVALUATIONS},
    s (i, since) AS (SELECT i - 1, since FROM unnest($5::date[]) WITH ORDINALITY AS u(since, i)),
    ks AS (SELECT k.*, s.since FROM k JOIN s USING (i))"""
# per department (LATERAL: the plain filtered scan, as fast as for one department),
# then summed over the departments of each evaluation
_COUNTS = f"""
    WITH {_KEYS_SINCE}
    SELECT k.i, c.dimension, c.value, {_CASE_SUMS}, coalesce(sum(c.open), 0)::int AS open
    FROM ks k, LATERAL (
        SELECT dimension, value, {_CASE_TOTALS}, sum(accepted - closed_accepted) AS open
        FROM case_daily
        WHERE department = k.department AND fiscal_year = k.fiscal_year AND day <= k.day
        GROUP BY dimension, value) c
    GROUP BY k.i, c.dimension, c.value ORDER BY k.i, c.dimension, c.value
    """
# the cases that fell due in the period (deadline reached or closed, whichever came first,
# from since to the day), counted for the value they have at the day
_DUE_IN_PERIOD = f"""
    WITH {_KEYS_SINCE}
    SELECT k.i, c.dimension, c.value, coalesce(sum(c.cases), 0)::int AS due,
           coalesce(sum(c.cases) FILTER (WHERE c.closed_day <= k.day), 0)::int AS due_closed
    FROM ks k JOIN case_deadlines c ON c.department = k.department
        AND c.fiscal_year = k.fiscal_year AND c.since_day <= k.day
        AND least(c.deadline_day, c.closed_day) BETWEEN k.since AND k.day
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
    holds it at the day. Without ``since``, one query of the daily rows answers all."""
    args = [*evaluation_args(evaluations), since or [date.min] * len(evaluations)]
    rows = await conn.fetch(_COUNTS, *args)
    in_period = {}
    if since is not None:
        in_period = {
            (r["i"], r["dimension"], r["value"]): r for r in await conn.fetch(_DUE_IN_PERIOD, *args)
        }
    found: list[dict[str, list[dict[str, Any]]]] = [
        {"channel": [], "category": [], "kind": [], "assignee": []} for _ in evaluations
    ]
    for row in rows:
        counts = dict(row)
        if since is not None:
            due = in_period.get((row["i"], row["dimension"], row["value"]))
            counts |= dict(due) if due else {"due": 0, "due_closed": 0}
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
