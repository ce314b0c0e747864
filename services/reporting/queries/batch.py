"""How one query answers a batch: the evaluations (or lines) asked, numbered, as a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.common.projections import LINE_MEASURES

Evaluation = tuple[Sequence[str], int, date]  # (departments, fiscal year, as-of day)

# A batch of evaluations, one row per (evaluation, department) pair: an evaluation of a
# department with its subunits covers several departments. Rows carry the evaluation's
# position k.i (0-based) so that one query answers every evaluation of the batch.
EVALUATIONS = """k (i, department, fiscal_year, day) AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::date[]))"""

# Each (line, day) key of a batch is numbered by its position: k.i (1-based).
LINE_KEYS = "unnest($1::text[], $2::date[]) WITH ORDINALITY AS k(line_id, day, i)"

LINE_SUMS = ", ".join(f"coalesce(sum(d.{m}), 0) AS {m}" for m in LINE_MEASURES)

# spending by economic class and by spending department, in one query (grouping sets)
SPENDING_SPLIT = "s.economic_class, s.spending_department, sum(s.spent) AS spent"


def evaluation_args(evaluations: Sequence[Evaluation]) -> list[list[Any]]:
    """The arguments $1 to $4 of EVALUATIONS."""
    pairs = [(i, code, year, day) for i, (codes, year, day) in enumerate(evaluations)
             for code in codes]  # fmt: skip
    return [list(column) for column in zip(*pairs, strict=True)] if pairs else [[], [], [], []]


def per_evaluation(rows: list[asyncpg.Record], n: int) -> list[list[asyncpg.Record]]:
    """The rows of each of n evaluations, by their k.i."""
    found: list[list[asyncpg.Record]] = [[] for _ in range(n)]
    for row in rows:
        found[row["i"]].append(row)
    return found


def split_spending(rows: list[asyncpg.Record]) -> dict[str, list[tuple[str, Decimal]]]:
    """The rows of SPENDING_SPLIT's grouping sets: by economic class, by spending department."""
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
