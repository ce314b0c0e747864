"""Queries of budget line evaluations, each (line, day) of a batch numbered k.i."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.common.projections import LINE_MEASURES, SOURCE_MEASURES
from services.reporting.queries.batch import LINE_KEYS, LINE_SUMS, SPENDING_SPLIT, split_spending

LineDay = tuple[str, date]  # (line_id, as-of day)

SOURCE_SUMS = ", ".join(f"sum(s.{m}) AS {m}" for m in SOURCE_MEASURES)


async def by_id(conn: asyncpg.Connection, line_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM lines WHERE line_id = ANY($1::text[])", line_ids)
    return {row["line_id"]: dict(row) for row in rows}


async def budgets(conn: asyncpg.Connection, keys: Sequence[LineDay]) -> list[dict[str, Any]]:
    """For each (line, day): its sums, and its spending by class and by spender."""
    ids, days = [k[0] for k in keys], [k[1] for k in keys]
    sums = await conn.fetch(
        f"""
        SELECT k.i, {LINE_SUMS} FROM {LINE_KEYS}
        LEFT JOIN line_daily d ON d.line_id = k.line_id AND d.day <= k.day
        GROUP BY k.i ORDER BY k.i
        """,
        ids,
        days,
    )
    spending = await conn.fetch(
        f"""
        SELECT k.i, {SPENDING_SPLIT} FROM {LINE_KEYS}
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
        {"sums": {m: row[m] for m in LINE_MEASURES}, **split_spending(by_key.get(row["i"], []))}
        for row in sums
    ]


async def targets(conn: asyncpg.Connection, line_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = await conn.fetch(
        "SELECT * FROM targets WHERE line_id = ANY($1::text[]) ORDER BY target_id",
        line_ids,
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["line_id"], []).append(dict(row))
    return found


async def outputs(conn: asyncpg.Connection, keys: Sequence[LineDay]) -> list[list[dict[str, Any]]]:
    """For each (line, day): the outputs recorded on the line up to the day."""
    rows = await conn.fetch(
        f"""
        SELECT k.i, o.indicator, o.unit, sum(o.quantity) AS quantity FROM {LINE_KEYS}
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


async def by_source(
    conn: asyncpg.Connection, keys: Sequence[tuple[Sequence[str], date]]
) -> list[dict[str, dict[str, Decimal]]]:
    """For each (lines, day): per funding source, the lines' initial_budget, adjusted_budget,
    arrived and spent up to the day (sources without any row left out), in one query: one
    row per (key, line) pair, numbered by the key's position k.i (0-based)."""
    pairs = [(i, line_id, day) for i, (line_ids, day) in enumerate(keys)
             for line_id in dict.fromkeys(line_ids)]  # fmt: skip
    found: list[dict[str, dict[str, Decimal]]] = [{} for _ in keys]
    if not pairs:
        return found
    numbers, line_ids, days = (list(column) for column in zip(*pairs, strict=True))
    rows = await conn.fetch(
        f"""
        SELECT k.i, s.funding_source, {SOURCE_SUMS}
        FROM unnest($1::int[], $2::text[], $3::date[]) AS k(i, line_id, day)
        JOIN line_source_daily s ON s.line_id = k.line_id AND s.day <= k.day
        GROUP BY k.i, s.funding_source ORDER BY k.i, s.funding_source
        """,
        numbers,
        line_ids,
        days,
    )
    for row in rows:
        found[row["i"]][row["funding_source"]] = {m: row[m] for m in SOURCE_MEASURES}
    return found
