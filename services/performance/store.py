"""Adapter: the performance projections in PostgreSQL (schema ``performance``)."""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.performance.projector import (
    CASE_COLUMNS,
    CASE_COUNTS,
    LINE_MEASURES,
    BatchProjection,
)

CASE_COLUMN_TYPES = {
    **dict.fromkeys(("department", "case_id", "channel", "category", "kind", "assignee"), "text"),
    "fiscal_year": "int",
    "advance_disposal": "boolean",
    **dict.fromkeys((c for c in CASE_COLUMNS if c.endswith("_at")), "timestamptz"),
}


def _columns(names: Sequence[str], types: Sequence[str]) -> tuple[str, str]:
    """(column list, unnest(...) argument list) for a bulk upsert."""
    args = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, start=1))
    return ", ".join(names), args


async def apply_entries(
    pool: asyncpg.Pool, entries: Sequence[dict[str, Any]], timezone: ZoneInfo
) -> int:
    """Apply journal entries not applied yet, in one transaction; returns how many were new."""
    async with pool.acquire() as conn, conn.transaction():
        departments = sorted({e["event"]["department"] for e in entries})
        # Row locks on the departments' positions: two consumers (e.g. during a
        # rebalance) never apply the same department's entries concurrently.
        await conn.executemany(
            "INSERT INTO performance.applied_positions VALUES ($1, 0) ON CONFLICT DO NOTHING",
            [(d,) for d in departments],
        )
        rows = await conn.fetch(
            """SELECT department, position FROM performance.applied_positions
               WHERE department = ANY($1::text[]) ORDER BY department FOR UPDATE""",
            departments,
        )
        applied = {row["department"]: row["position"] for row in rows}
        fresh = []
        for entry in entries:
            department = entry["event"]["department"]
            if entry["position"] > applied[department]:
                fresh.append(entry)
                applied[department] = entry["position"]
        if not fresh:
            return 0
        projection = BatchProjection(timezone, await load_cases(conn, fresh))
        for entry in fresh:
            projection.apply(entry)
        await write(conn, projection)
        await conn.execute(
            """
            UPDATE performance.applied_positions a SET position = u.position
            FROM unnest($1::text[], $2::bigint[]) AS u(department, position)
            WHERE a.department = u.department
            """,
            list(applied),
            list(applied.values()),
        )
        return len(fresh)


async def load_cases(
    conn: asyncpg.Connection,
    entries: Sequence[dict[str, Any]],
    schema: str = "performance",
    known: Container[tuple[str, str]] = (),
) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored cases the entries' case stages refer to (but those ``known`` already)."""
    keys = {
        (e["event"]["department"], e["event"]["data"]["case_id"])
        for e in entries
        if e["event"]["event_type"].startswith("Case")
        and e["event"]["event_type"] != "CaseReported"
    }
    keys = {key for key in keys if key not in known}
    if not keys:
        return {}
    rows = await conn.fetch(
        f"""
        SELECT {", ".join(CASE_COLUMNS)} FROM {schema}.cases
        WHERE (department, case_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(row["department"], row["case_id"]): dict(row) for row in rows}


async def write_cases(
    conn: asyncpg.Connection, cases: Sequence[dict[str, Any]], schema: str = "performance"
) -> None:
    """Insert or update case rows."""
    names, args = _columns(CASE_COLUMNS, [CASE_COLUMN_TYPES[c] for c in CASE_COLUMNS])
    await conn.execute(
        f"""
        INSERT INTO {schema}.cases ({names}) SELECT * FROM unnest({args})
        ON CONFLICT (department, case_id) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in CASE_COLUMNS[2:])}
        """,
        *([case[c] for case in cases] for c in CASE_COLUMNS),
    )


async def write(conn: asyncpg.Connection, p: BatchProjection, schema: str = "performance") -> None:
    """Add a projection's rows to the tables of ``schema`` (the live one, or a replay's)."""
    if p.departments:
        await conn.executemany(
            f"""
            INSERT INTO {schema}.departments VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent,
                headcount_authorised = excluded.headcount_authorised,
                headcount_actual = excluded.headcount_actual
            """,
            [tuple(d.values()) for d in p.departments.values()],
        )
    if p.lines:
        await conn.executemany(
            f"""
            INSERT INTO {schema}.lines VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (line_id) DO NOTHING
            """,
            [tuple(line.values()) for line in p.lines.values()],
        )
    if p.line_daily:
        names, args = _columns(
            ("line_id", "day", *LINE_MEASURES), ("text", "date") + ("numeric",) * 7
        )
        await conn.execute(
            f"""
            INSERT INTO {schema}.line_daily ({names}) SELECT * FROM unnest({args})
            ON CONFLICT (line_id, day) DO UPDATE SET
            {", ".join(f"{m} = line_daily.{m} + excluded.{m}" for m in LINE_MEASURES)}
            """,
            [k[0] for k in p.line_daily],
            [k[1] for k in p.line_daily],
            *([v[m] for v in p.line_daily.values()] for m in LINE_MEASURES),
        )
    if p.spending_daily:
        await conn.execute(
            f"""
            INSERT INTO {schema}.line_spending_daily
            SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::numeric[])
            ON CONFLICT (line_id, day, economic_class, spending_department)
            DO UPDATE SET spent = line_spending_daily.spent + excluded.spent
            """,
            *(list(column) for column in zip(*p.spending_daily, strict=True)),
            list(p.spending_daily.values()),
        )
    if p.touched_cases:
        await write_cases(conn, [p.cases[key] for key in p.touched_cases], schema)
    if p.targets:
        await conn.executemany(
            f"""
            INSERT INTO {schema}.targets VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                                                    $12)
            ON CONFLICT (department, target_id) DO UPDATE SET fiscal_year = excluded.fiscal_year,
                line_id = excluded.line_id, level1 = excluded.level1, level2 = excluded.level2,
                name = excluded.name, metric = excluded.metric,
                comparator = excluded.comparator, value = excluded.value, unit = excluded.unit,
                weight = excluded.weight
            """,
            [tuple(t.values()) for t in p.targets.values()],
        )
    if p.schemes:
        await conn.executemany(
            f"""INSERT INTO {schema}.assessment_schemes VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT DO NOTHING""",
            [tuple(scheme.values()) for scheme in p.schemes.values()],
        )
    if p.outputs_daily:
        await conn.execute(
            f"""
            INSERT INTO {schema}.outputs_daily
            SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[],
                                 $6::date[], $7::numeric[])
            ON CONFLICT (department, fiscal_year, indicator, unit, line_id, day)
            DO UPDATE SET quantity = outputs_daily.quantity + excluded.quantity
            """,
            *(list(column) for column in zip(*p.outputs_daily, strict=True)),
            list(p.outputs_daily.values()),
        )
    if p.case_deadlines:
        await conn.execute(
            f"""
            INSERT INTO {schema}.case_deadlines
            SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::date[],
                                 $6::date[], $7::date[], $8::int[])
            ON CONFLICT (department, fiscal_year, dimension, value, deadline_day, closed_day,
                         since_day)
            DO UPDATE SET cases = case_deadlines.cases + excluded.cases
            """,
            *(list(column) for column in zip(*p.case_deadlines, strict=True)),
            list(p.case_deadlines.values()),
        )
    if p.case_daily:
        names, args = _columns(
            ("department", "fiscal_year", "dimension", "value", "day", *CASE_COUNTS),
            ("text", "int", "text", "text", "date") + ("int",) * len(CASE_COUNTS),
        )
        await conn.execute(
            f"""
            INSERT INTO {schema}.case_daily ({names}) SELECT * FROM unnest({args})
            ON CONFLICT (department, fiscal_year, dimension, value, day) DO UPDATE SET
            {", ".join(f"{c} = case_daily.{c} + excluded.{c}" for c in CASE_COUNTS)}
            """,
            *(list(column) for column in zip(*p.case_daily, strict=True)),
            *([v[c] for v in p.case_daily.values()] for c in CASE_COUNTS),
        )
