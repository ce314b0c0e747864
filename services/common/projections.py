"""The performance projections, declared once: every table the performance service writes and
the reporting gateway reads, with its columns, key and how rows combine.

The performance service's upserts, the replay's shadow tables and the projection digest are
derived from these declarations, and the reporting queries take their column lists from them;
a test checks that the tables the migrations create are exactly these.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, cached_property
from operator import itemgetter
from typing import Any

import asyncpg

LIVE = "performance"  # the live projections' schema


class Merge(StrEnum):
    """What a write does to a row whose key is already there."""

    ADD = "add"  # additive buckets: the values are summed
    REPLACE = "replace"  # the newest row wins (the same target_id again replaces it)
    KEEP = "keep"  # the first row stays (a line's attributes are those of its first event)


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # as PostgreSQL names it in DDL: text, integer, bigint, numeric, ...
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[Column, ...]
    values: tuple[Column, ...]
    merge: Merge
    # how its rows belong to a fiscal year: "" (not per year), "own" (its fiscal_year and
    # department columns), "line" (through its budget line)
    year_scope: str = "own"
    indexes: tuple[tuple[str, ...], ...] = ()  # besides the primary key's

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.key + self.values

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.key)

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.values)

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """A row given by column name, as a tuple in the declaration's column order."""
        return self._row(values)  # type: ignore[no-any-return]

    @cached_property
    def _row(self) -> Callable[[Mapping[str, Any]], Any]:
        return itemgetter(*self.column_names)

    def create_sql(self, schema: str) -> str:
        """DDL: the table in ``schema`` (a replay's shadow), its indexes too; unlogged (not
        written to the WAL, emptied by a crash: see the replay's ``create_shadow``)."""
        columns = [f"{c.name} {c.sql_type}{'' if c.nullable else ' NOT NULL'}"
                   for c in self.columns]  # fmt: skip
        columns.append(f"PRIMARY KEY ({', '.join(self.key_names)})")
        statements = [f"CREATE UNLOGGED TABLE {schema}.{self.name} ({', '.join(columns)})"]
        statements += [f"CREATE INDEX ON {schema}.{self.name} ({', '.join(names)})"
                       for names in self.indexes]  # fmt: skip
        return ";\n".join(statements)

    def upsert_sql(self, schema: str, source: str | None = None) -> str:
        """SQL: insert rows (``source``, a query of the columns in declaration order; by
        default one array argument per column, $1 ... $n) and merge them as declared with
        the rows already there."""
        return _upsert_sql(self, schema, source)

    def of_year(self, schema: str) -> str:
        """SQL: the rows of year $1 (and department $2 unless null), the table aliased t."""
        if self.year_scope == "line":
            return f"""t.line_id IN (SELECT line_id FROM {schema}.lines
                       WHERE fiscal_year = $1 AND ($2::text IS NULL OR department = $2))"""
        if self.year_scope == "own":
            return "t.fiscal_year = $1 AND ($2::text IS NULL OR t.department = $2)"
        raise ValueError(f"{self.name} is not kept per fiscal year")


@cache
def _upsert_sql(table: Table, schema: str, source: str | None) -> str:
    if source is None:
        arrays = ", ".join(f"${i}::{c.sql_type}[]" for i, c in enumerate(table.columns, start=1))
        source = f"SELECT * FROM unnest({arrays})"
    if table.merge is Merge.KEEP or not table.values:
        action = "NOTHING"
    elif table.merge is Merge.ADD:
        action = "UPDATE SET " + ", ".join(
            f"{v} = {table.name}.{v} + excluded.{v}" for v in table.value_names
        )
    else:
        action = "UPDATE SET " + ", ".join(f"{v} = excluded.{v}" for v in table.value_names)
    return (
        f"INSERT INTO {schema}.{table.name} ({', '.join(table.column_names)}) {source} "
        f"ON CONFLICT ({', '.join(table.key_names)}) DO {action}"
    )


def _text(*names: str, nullable: bool = False) -> tuple[Column, ...]:
    return tuple(Column(n, "text", nullable) for n in names)


def _of(sql_type: str, *names: str, nullable: bool = False) -> tuple[Column, ...]:
    return tuple(Column(n, sql_type, nullable) for n in names)


LINE_MEASURES = ("initial_budget", "adjusted_budget", "arrived", "transferred", "spent",
                 "procurement_planned", "contracted")  # fmt: skip
CASE_COUNTS = (
    "reported",
    "accepted",
    "filed",
    "dispatched",
    "disposed",
    "closed",
    "advance_disposals",
    "closed_on_time",  # closed at or before its deadline_at
    "closed_accepted",  # closed, and accepted before (open = accepted - closed_accepted)
)
# overdue cases by how many days past their deadline they are at the day asked
OVERDUE_AGES = {"up_to_3": (0, 3), "from_4_to_10": (4, 10), "from_11_to_30": (11, 30),
                "over_30": (31, None)}  # fmt: skip
# deltas of filed cases (services/performance/deadlines.py): summed up to a day, its figures
DEADLINE_COUNTS = ("due", "due_closed", "overdue", *(f"overdue_{a}" for a in OVERDUE_AGES))
_CASE_KEY = (*_text("department"), Column("fiscal_year", "integer"),
             *_text("dimension", "value"))  # fmt: skip

APPLIED_POSITIONS = Table(
    "applied_positions", _text("department"), (Column("position", "bigint"),),
    Merge.REPLACE, year_scope="",
)  # fmt: skip
# The projections' version: the xmin of the applied_positions rows, which every write of the
# projections rewrites in its transaction (a batch: its departments' rows; a replay's swap
# and a migration that changes projected rows: all, with BUMP_VERSION). The gateway's cache
# of answers holds while it does not change. Unqualified: the schema the gateway answers from
# (PROJECTION_SCHEMA: the live one, or a snapshot).
VERSION = (
    "SELECT coalesce(string_agg(xmin::text, ',' ORDER BY department), '') FROM applied_positions"
)
BUMP_VERSION = "UPDATE {}.applied_positions SET position = position"
DEPARTMENTS = Table(
    "departments",
    _text("code"),
    (*_text("name"), *_text("parent", nullable=True),
     *_of("integer", "headcount_authorised", "headcount_actual", nullable=True)),
    Merge.REPLACE,
    year_scope="",
)  # fmt: skip
LINES = Table(
    "lines",
    _text("line_id"),
    (*_text("department"), Column("fiscal_year", "integer"),
     *_text("title", "category", "funding_source"), *_text("sangong", nullable=True)),
    Merge.KEEP,
    indexes=(("department", "fiscal_year"),),
)  # fmt: skip
LINE_DAILY = Table(
    "line_daily",
    (*_text("line_id"), Column("day", "date")),
    _of("numeric", *LINE_MEASURES),
    Merge.ADD,
    year_scope="line",
)
# the money of a line by funding source (BudgetAuthorised, BudgetAdjusted, FundsArrived,
# Disbursed and their reversals carry one; without it: appropriation), created by the
# performance service's migration 0002.performance-line-source-daily
SOURCE_MEASURES = ("initial_budget", "adjusted_budget", "arrived", "spent")
LINE_SOURCE_DAILY = Table(
    "line_source_daily",
    (*_text("line_id"), Column("day", "date"), *_text("funding_source")),
    _of("numeric", *SOURCE_MEASURES),
    Merge.ADD,
    year_scope="line",
)
LINE_SPENDING_DAILY = Table(
    "line_spending_daily",
    (*_text("line_id"), Column("day", "date"), *_text("economic_class", "spending_department")),
    (Column("spent", "numeric"),),
    Merge.ADD,
    year_scope="line",
)
CASES = Table(
    "cases",
    _text("department", "case_id"),
    # fiscal_year came in a later version (a column added to the table: null in the rows
    # of cases reported before, which a replay of their year replaces)
    (Column("fiscal_year", "integer", nullable=True), *_text("channel", "category", "kind"),
     Column("advance_disposal", "boolean"),
     *_of("timestamp with time zone", "reported_at", "accepted_at", "filed_at", "deadline_at",
          "dispatched_at", nullable=True),
     *_text("assignee", nullable=True),
     *_of("timestamp with time zone", "disposed_at", "closed_at", nullable=True)),
    Merge.REPLACE,
)  # fmt: skip
# counts of each day, and the deadline figures' deltas (as of a day: their sums up to it)
CASE_DAILY = Table(
    "case_daily",
    (*_CASE_KEY, Column("day", "date")),
    _of("integer", *CASE_COUNTS, *DEADLINE_COUNTS),
    Merge.ADD,
)
# filed cases by deadline day and closing day (9999-12-31 while not closed), each row counting
# from since_day on: the cases due in a period (a month of an assessment) are sums over it
CASE_DEADLINES = Table(
    "case_deadlines",
    (*_CASE_KEY, *_of("date", "deadline_day", "closed_day", "since_day")),
    (Column("cases", "integer"),),
    Merge.ADD,
)
TARGETS = Table(
    "targets",
    _text("department", "target_id"),
    (Column("fiscal_year", "integer"), *_text("line_id", nullable=True),
     *_text("level1", "level2", "name", "metric", "comparator"), Column("value", "numeric"),
     *_text("unit"), Column("weight", "numeric")),
    Merge.REPLACE,
)  # fmt: skip
OUTPUTS_DAILY = Table(
    "outputs_daily",
    (*_text("department"), Column("fiscal_year", "integer"),
     *_text("indicator", "unit", "line_id"), Column("day", "date")),
    (Column("quantity", "numeric"),),
    Merge.ADD,
)  # fmt: skip
# the scheme scoring a month, as of a day, is the last recorded by then whose month has begun
ASSESSMENT_SCHEMES = Table(
    "assessment_schemes",
    (*_text("department"), Column("position", "bigint")),
    (Column("fiscal_year", "integer"), Column("effective_month", "integer"),
     Column("set_day", "date"), Column("indicators", "jsonb"),
     *_text("document", nullable=True)),
    Merge.KEEP,
)  # fmt: skip
# What evaluators write (migration 0004.performance-evaluation-notes): the latest note on a
# target, the latest goal of a department ('' as line_id) or line, and every signature.
DEVIATION_NOTES = Table(
    "deviation_notes",
    _text("department", "target_id"),
    (Column("fiscal_year", "integer"), *_text("text", "author"),
     Column("written_at", "timestamp with time zone")),
    Merge.REPLACE,
)  # fmt: skip
GOALS = Table(
    "goals",
    (*_text("department"), Column("fiscal_year", "integer"), *_text("line_id")),
    (*_text("expected"), *_text("actual", nullable=True), *_text("author"),
     Column("written_at", "timestamp with time zone")),
    Merge.REPLACE,
)  # fmt: skip
SIGNATURES = Table(
    "signatures",
    (*_text("department"), Column("position", "bigint")),
    (Column("fiscal_year", "integer"), *_text("line_id"), Column("as_of", "date"),
     *_text("signer"), Column("signed_at", "timestamp with time zone"),
     Column("figures", "jsonb"), *_text("digest")),
    Merge.KEEP,
)  # fmt: skip

# every projection table, in dependency order: a table read to select another's rows comes
# after it (lines, through which the tables kept per line belong to a year). The digest hashes
# the year's tables in this order, as earlier versions did.
TABLES = (APPLIED_POSITIONS, DEPARTMENTS, LINE_DAILY, LINE_SOURCE_DAILY, LINE_SPENDING_DAILY,
          LINES, CASES, CASE_DAILY, CASE_DEADLINES, TARGETS, OUTPUTS_DAILY,
          ASSESSMENT_SCHEMES, DEVIATION_NOTES, GOALS, SIGNATURES)  # fmt: skip
# the tables whose rows belong to a fiscal year: what a replay rebuilds and a digest covers
YEAR_TABLES = tuple(t for t in TABLES if t.year_scope)

_DIGESTED = {  # how a cell is written into the digest: numbers by value, times in UTC
    "numeric": "trim_scale(t.{})",
    "timestamp with time zone": "t.{} AT TIME ZONE 'UTC'",
}


async def digest(
    conn: asyncpg.Connection,
    fiscal_year: int,
    department: str | None = None,
    schema: str = LIVE,
    ranked: bool = False,
) -> str:
    """A stable hash (sha256, hex) of a year's projection rows, in key order: equal digests,
    equal projections. Numbers are compared by value (1.50 = 1.5), times in UTC. ``ranked``:
    a journal position kept in a row (the schemes', the signatures') counts by its rank in
    its department instead: what two ledgers agree on when they read the same records (the
    positions themselves depend on how each interleaved the partitions)."""
    parts = []
    for table in YEAR_TABLES:
        rows = f"SELECT * FROM {schema}.{table.name} t WHERE {table.of_year(schema)}"
        named = {}
        if ranked and "position" in table.key_names:
            rows = f"""SELECT t.*, rank() OVER (PARTITION BY t.department ORDER BY t.position)
                       AS position_rank FROM ({rows}) t"""
            named = {"position": "position_rank"}
        cells = ", ".join(
            f"coalesce(({_DIGESTED.get(c.sql_type, 't.{}').format(named.get(c.name, c.name))})"
            "::text, '∅')"
            for c in table.columns
        )
        order = ", ".join(f"t.{named.get(c, c)}" for c in table.key_names)
        part = await conn.fetchval(
            f"""SELECT encode(sha256(convert_to(coalesce(
                    string_agg(concat_ws('|', {cells}), E'\\n' ORDER BY {order}),
                    ''), 'UTF8')), 'hex')
                FROM ({rows}) t""",
            fiscal_year,
            department,
        )
        parts.append(f"{table.name}:{part}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
