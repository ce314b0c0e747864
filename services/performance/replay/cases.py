"""A replay's cases, built by PostgreSQL with set operations: one row per case, its daily
counts and its deadline figures, from the event store's case events.

The same rules as the live fold (``BatchProjection``'s ``on_Case*`` and deadlines.py), stated
as queries, because a case's figures follow from its row: a stage counts on its day for the
case's channel, category and kind; a case counts for its assignee from the day it was
dispatched to it (the stages reached by then move with it on a re-dispatch, 改派); disposal
and closure count for the assignee it has then (no dispatch follows them: stages only move
forward); a filed case's deadline figures are the deltas of ``deadline_deltas`` from its
filing, moved at each hand-over and ended at its closure. The digest tests replay years of
every shape through both and compare (tests/integration/test_replay*.py).

Department by department, the event store is read with a grouped scan (the case rows) and
an index scan (the dispatches), copied with binary ``COPY`` (the event store may be another
database) into temporary tables of the department's transaction; the daily counts are
derived from those rows alone, and the rows are added to the shadow when it commits.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from datetime import date

import asyncpg

from services.common.event_store import YearEvents
from services.common.projections import CASE_DAILY, CASE_DEADLINES, CASES, OVERDUE_AGES
from services.performance.deadlines import NOT_CLOSED

# a department's scratch tables (temporary, of its transaction): its cases, each dispatch of
# them, and the cases of each shape, counted
SCRATCH = {"cases": "pg_temp.replay_cases", "dispatches": "pg_temp.replay_dispatches",
           "shapes": "pg_temp.replay_shapes"}  # fmt: skip
# memory for the aggregations of one statement (PostgreSQL's default, 4 MB, sorts on disk)
WORK_MEM = "128MB"

_DATA = "e.payload -> 'data'"
# the departments of a year (a loose scan of the index on department and fiscal year: a probe
# a department) that have cases; $2: only this one, if not null
_WITH_CASES = """
WITH RECURSIVE d(department) AS (
    SELECT min(department) FROM ledger.events WHERE fiscal_year = $1
    UNION ALL
    SELECT (SELECT min(e.department) FROM ledger.events e
            WHERE e.fiscal_year = $1 AND e.department > d.department)
    FROM d WHERE d.department IS NOT NULL
)
SELECT department FROM d
WHERE department IS NOT NULL AND ($2::text IS NULL OR department = $2) AND EXISTS (
    SELECT FROM ledger.events e WHERE e.department = d.department AND e.fiscal_year = $1
        AND e.event_type = 'CaseReported')
"""
# one row per case, in the cases table's column order (its last dispatch joined)
_CASE_ROWS = f"""
WITH last AS (
    SELECT DISTINCT ON (e.stream_id) e.stream_id, e.occurred_at,
           {_DATA} ->> 'assignee' AS assignee
    {{scope}} AND e.event_type = 'CaseDispatched'
    ORDER BY e.stream_id, e.position DESC
), grouped AS (
    SELECT e.stream_id, min(e.department) AS department,
      min({_DATA} ->> 'case_id') FILTER (WHERE e.event_type = 'CaseReported') AS case_id,
      min(e.fiscal_year) AS fiscal_year,
      min({_DATA} ->> 'channel') FILTER (WHERE e.event_type = 'CaseReported') AS channel,
      min({_DATA} ->> 'category') FILTER (WHERE e.event_type = 'CaseReported') AS category,
      min({_DATA} ->> 'kind') FILTER (WHERE e.event_type = 'CaseReported') AS kind,
      bool_or(coalesce(({_DATA} ->> 'advance_disposal')::boolean, false))
          FILTER (WHERE e.event_type = 'CaseReported') AS advance_disposal,
      max(e.occurred_at) FILTER (WHERE e.event_type = 'CaseReported') AS reported_at,
      max(e.occurred_at) FILTER (WHERE e.event_type = 'CaseAccepted') AS accepted_at,
      max(e.occurred_at) FILTER (WHERE e.event_type = 'CaseFiled') AS filed_at,
      max(({_DATA} ->> 'deadline_at')::timestamptz)
          FILTER (WHERE e.event_type = 'CaseFiled') AS deadline_at,
      max(e.occurred_at) FILTER (WHERE e.event_type = 'CaseDisposed') AS disposed_at,
      max(e.occurred_at) FILTER (WHERE e.event_type = 'CaseClosed') AS closed_at
    {{scope}}
    GROUP BY e.stream_id
)
SELECT g.department, g.case_id, g.fiscal_year, g.channel, g.category, g.kind,
       g.advance_disposal, g.reported_at, g.accepted_at, g.filed_at, g.deadline_at,
       last.occurred_at AS dispatched_at, last.assignee, g.disposed_at, g.closed_at
FROM grouped g LEFT JOIN last USING (stream_id)
"""
_DISPATCH_ROWS = f"""
SELECT e.department, {_DATA} ->> 'case_id', e.position, e.occurred_at, {_DATA} ->> 'assignee'
{{scope}} AND e.event_type = 'CaseDispatched'
"""
_DISPATCH_COLUMNS = ("department", "case_id", "position", "at", "assignee")
_SCRATCH_TABLES = """CREATE TEMPORARY TABLE replay_cases (LIKE {schema}.cases) ON COMMIT DROP;
CREATE TEMPORARY TABLE replay_dispatches (department text, case_id text, position bigint,
    at timestamp with time zone, assignee text) ON COMMIT DROP"""

# deadlines.py's deltas of a deadline fact f (deadline, closed, since) as rows (day, count,
# sign); the spans of the overdue ages from OVERDUE_AGES
_SPANS = ",\n".join(
    ["('overdue', f.deadline, f.closed)"]
    + [
        f"('overdue_{age}', f.deadline + {low}, "
        + ("f.closed)" if high is None else f"least(f.closed, f.deadline + {high + 1}))")
        for age, (low, high) in OVERDUE_AGES.items()
    ]
)
# NOT_CLOSED is date.max, which asyncpg writes (and the live service stores) as infinity
assert NOT_CLOSED == date.max
_NOT_CLOSED = "DATE 'infinity'"
_DELTAS = f"""
SELECT greatest(least(f.deadline, f.closed), f.since) AS day, 'due' AS count, 1 AS sign
UNION ALL SELECT greatest(f.closed, f.since), 'due_closed', 1 WHERE f.closed <> {_NOT_CLOSED}
UNION ALL SELECT greatest(s.start, f.since), s.count, 1
    FROM (VALUES {_SPANS}) s(count, start, stop) WHERE greatest(s.start, f.since) < s.stop
UNION ALL SELECT s.stop, s.count, -1
    FROM (VALUES {_SPANS}) s(count, start, stop)
    WHERE greatest(s.start, f.since) < s.stop AND s.stop <> {_NOT_CLOSED}
"""

# Cases alike in every respect the figures see (dimensions, assignee, the day of each stage,
# closed on time or not) are counted once: a few cases per shape. {zone}: the days' time zone.
_SHAPES = """CREATE TEMPORARY TABLE replay_shapes ON COMMIT DROP AS
SELECT department, fiscal_year, channel, category, kind, advance_disposal, assignee,
       (reported_at AT TIME ZONE {zone})::date AS reported,
       (accepted_at AT TIME ZONE {zone})::date AS accepted,
       (filed_at AT TIME ZONE {zone})::date AS filed,
       (deadline_at AT TIME ZONE {zone})::date AS deadline,
       (disposed_at AT TIME ZONE {zone})::date AS disposed,
       (closed_at AT TIME ZONE {zone})::date AS closed,
       closed_at <= deadline_at AS on_time, count(*)::integer AS n
FROM {cases} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14"""

# The facts of the year's cases: counts (day, count, n, for the fixed dimensions?, for this
# assignee) and deadlines (deadline, closed, since, n, fixed?, assignee): the live fold's
# increments, each once per case.
_FACTS = """
d AS (
    SELECT department, case_id, (at AT TIME ZONE {zone})::date AS day, assignee,
           lag(assignee) OVER w AS previous, row_number() OVER w AS nth
    FROM {dispatches} WINDOW w AS (PARTITION BY department, case_id ORDER BY position)
), moves AS (  -- a hand-over: +1 for the new assignee, -1 for the previous one
    SELECT c.*, d.day, m.n, m.assignee AS mover
    FROM d JOIN {cases} c USING (department, case_id)
    CROSS JOIN LATERAL (VALUES (1, d.assignee), (-1, d.previous)) m(n, assignee)
    WHERE d.assignee IS DISTINCT FROM d.previous AND m.assignee IS NOT NULL
), counts AS (
    SELECT s.department, s.fiscal_year, s.channel, s.category, s.kind,
           f.day, f.count, s.n, true AS fixed, f.assignee
    FROM {shapes} s CROSS JOIN LATERAL (VALUES
        (s.reported, 'reported', NULL),
        (CASE WHEN s.advance_disposal THEN s.reported END, 'advance_disposals', NULL),
        (s.accepted, 'accepted', NULL),
        (s.filed, 'filed', NULL),
        (s.disposed, 'disposed', s.assignee),
        (s.closed, 'closed', s.assignee),
        (CASE WHEN s.accepted IS NOT NULL THEN s.closed END, 'closed_accepted', s.assignee),
        (CASE WHEN s.on_time THEN s.closed END, 'closed_on_time', s.assignee)
    ) f(day, count, assignee) WHERE f.day IS NOT NULL
    UNION ALL  -- the first dispatch counts the case once, before it has an assignee
    SELECT c.department, c.fiscal_year, c.channel, c.category, c.kind,
           d.day, 'dispatched', 1, true, NULL
    FROM d JOIN {cases} c USING (department, case_id) WHERE d.nth = 1
    UNION ALL  -- what a hand-over moves: the case's stages reached by then
    SELECT m.department, m.fiscal_year, NULL, NULL, NULL, m.day, h.count, m.n, false, m.mover
    FROM moves m CROSS JOIN LATERAL (VALUES ('dispatched', true), ('reported', true),
        ('accepted', m.accepted_at IS NOT NULL), ('filed', m.filed_at IS NOT NULL),
        ('advance_disposals', m.advance_disposal)) h(count, moved)
    WHERE h.moved
), deadlines AS (
    SELECT s.department, s.fiscal_year, s.channel, s.category, s.kind, s.deadline,
           f.closed, f.since, f.n * s.n AS n, true AS fixed, f.assignee
    FROM {shapes} s CROSS JOIN LATERAL (VALUES
        (NOT_CLOSED, s.filed, 1, NULL),
        (NOT_CLOSED, s.closed, -1, s.assignee),
        (s.closed, s.closed, 1, s.assignee)
    ) f(closed, since, n, assignee)
    WHERE s.filed IS NOT NULL AND f.since IS NOT NULL
    UNION ALL
    SELECT m.department, m.fiscal_year, NULL, NULL, NULL,
           (m.deadline_at AT TIME ZONE {zone})::date, NOT_CLOSED, m.day, m.n, false, m.mover
    FROM moves m WHERE m.filed_at IS NOT NULL
)""".replace("NOT_CLOSED", _NOT_CLOSED)

# a fact's rows: (dimension, value) of its fixed dimensions, and its assignee's
_DIMENSIONS = """CROSS JOIN LATERAL (VALUES
    ('channel', CASE WHEN f.fixed THEN f.channel END),
    ('category', CASE WHEN f.fixed THEN f.category END),
    ('kind', CASE WHEN f.fixed THEN f.kind END),
    ('assignee', f.assignee)) v(dimension, value)"""

_KEY = "department, fiscal_year, dimension, value"
_COUNTS = CASE_DAILY.value_names
_DAILY = f"""
WITH {_FACTS}, summed AS (  -- the day's counts of alike facts, before they are spread
    SELECT department, fiscal_year, channel, category, kind, fixed, assignee, day,
        {", ".join(f"coalesce(sum(n) FILTER (WHERE count = '{c}'), 0) AS {c}" for c in _COUNTS)}
    FROM (SELECT department, fiscal_year, channel, category, kind, fixed, assignee, day, count, n
          FROM counts
          UNION ALL
          SELECT f.department, f.fiscal_year, f.channel, f.category, f.kind, f.fixed,
                 f.assignee, x.day, x.count, f.n * x.sign
          FROM deadlines f CROSS JOIN LATERAL ({_DELTAS}) x) facts
    GROUP BY department, fiscal_year, channel, category, kind, fixed, assignee, day
)
INSERT INTO {{schema}}.{CASE_DAILY.name} ({", ".join(CASE_DAILY.column_names)})
SELECT {_KEY}, day, {", ".join(f"sum({c})" for c in _COUNTS)}
FROM summed f {_DIMENSIONS} WHERE v.value IS NOT NULL GROUP BY {_KEY}, day
"""
_DEADLINES = f"""
WITH {_FACTS}
INSERT INTO {{schema}}.{CASE_DEADLINES.name} ({", ".join(CASE_DEADLINES.column_names)})
SELECT f.department, f.fiscal_year, v.dimension, v.value, f.deadline, f.closed, f.since, sum(f.n)
FROM deadlines f {_DIMENSIONS} WHERE v.value IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


async def build_cases(
    ledger: asyncpg.Pool, perf: asyncpg.Pool, events: YearEvents, schema: str, timezone: str
) -> None:
    """The cases of ``events`` into the shadow ``schema``'s cases, case_daily and
    case_deadlines: department by department (what one holds in memory is bounded by its
    year, whatever the number of departments), two at a time (PostgreSQL's work)."""
    async with ledger.acquire() as conn:
        rows = await conn.fetch(_WITH_CASES, events.fiscal_year, events.department)
    names = {"schema": schema, "zone": "'" + timezone.replace("'", "''") + "'", **SCRATCH}
    at_once = asyncio.Semaphore(2)

    async def build(department: str) -> None:
        async with at_once:
            await _build(ledger, perf, replace(events, department=department), names)

    await asyncio.gather(*(build(row["department"]) for row in rows))


async def _build(
    ledger: asyncpg.Pool, perf: asyncpg.Pool, events: YearEvents, names: dict[str, str]
) -> None:
    """One department's cases (of one snapshot of the event store), in one transaction."""
    scope, args = events.where()
    async with ledger.acquire() as source, perf.acquire() as target, target.transaction():
        await target.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        await target.execute(_SCRATCH_TABLES.format_map(names))
        async with source.transaction(isolation="repeatable_read", readonly=True):
            await source.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            await _copy(source, target, _DISPATCH_ROWS.format(scope=scope), args,
                        names["dispatches"], _DISPATCH_COLUMNS)  # fmt: skip
            await _copy(source, target, _CASE_ROWS.format(scope=scope), args,
                        names["cases"], CASES.column_names)  # fmt: skip
        await target.execute(f"ANALYZE {names['cases']}, {names['dispatches']}")
        for sql in (_SHAPES, _DAILY, _DEADLINES):
            await target.execute(sql.format_map(names))
        await target.execute(f"INSERT INTO {names['schema']}.cases SELECT * FROM {names['cases']}")


async def _copy(
    source: asyncpg.Connection,
    target: asyncpg.Connection,
    query: str,
    args: list[object],
    table: str,
    columns: tuple[str, ...],
) -> None:
    """The rows of ``query`` on ``source`` into ``table`` (schema.name) on ``target``, in
    PostgreSQL's binary COPY format, through a temporary file: the query runs at full speed
    and memory holds none of it."""
    with tempfile.TemporaryFile(prefix="replay-") as spool:
        await source.copy_from_query(query, *args, output=spool, format="binary")
        spool.seek(0)
        schema, name = table.split(".")
        await target.copy_to_table(
            name, source=spool, schema_name=schema, columns=list(columns), format="binary"
        )
