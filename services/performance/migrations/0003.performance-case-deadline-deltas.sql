-- depends: 0002.performance-line-source-daily
-- The deadline figures of filed cases as daily deltas in case_daily: due, due_closed, overdue
-- and the overdue ages as of a day are the sums of a year's days up to it, read without
-- scanning every case (services/performance/deadlines.py computes the same deltas). The
-- projections a database already holds get theirs from case_deadlines here.
ALTER TABLE performance.case_daily
    ADD COLUMN IF NOT EXISTS due                   integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS due_closed            integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS overdue               integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS overdue_up_to_3       integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS overdue_from_4_to_10  integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS overdue_from_11_to_30 integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS overdue_over_30       integer NOT NULL DEFAULT 0;

WITH r AS (
    SELECT department, fiscal_year, dimension, value, deadline_day AS d, closed_day AS c,
           since_day AS s, cases AS n
    FROM performance.case_deadlines
), spans AS (  -- overdue (and of an age) from start on, until stop (not included)
    SELECT r.department, r.fiscal_year, r.dimension, r.value, r.n, o.count,
           greatest(o.start, r.s) AS start, o.stop
    FROM r, LATERAL (VALUES ('overdue', r.d, r.c),
                            ('overdue_up_to_3', r.d, least(r.c, r.d + 4)),
                            ('overdue_from_4_to_10', r.d + 4, least(r.c, r.d + 11)),
                            ('overdue_from_11_to_30', r.d + 11, least(r.c, r.d + 31)),
                            ('overdue_over_30', r.d + 31, r.c)) AS o(count, start, stop)
), deltas AS (
    SELECT department, fiscal_year, dimension, value, greatest(least(d, c), s) AS day,
           'due' AS count, n
    FROM r
    UNION ALL
    SELECT department, fiscal_year, dimension, value, greatest(c, s), 'due_closed', n
    FROM r WHERE c < DATE '9999-12-31'
    UNION ALL
    SELECT department, fiscal_year, dimension, value, start, count, n
    FROM spans WHERE start < stop
    UNION ALL
    SELECT department, fiscal_year, dimension, value, stop, count, -n
    FROM spans WHERE start < stop AND stop < DATE '9999-12-31'
)
INSERT INTO performance.case_daily (department, fiscal_year, dimension, value, day, due,
    due_closed, overdue, overdue_up_to_3, overdue_from_4_to_10, overdue_from_11_to_30,
    overdue_over_30)
SELECT department, fiscal_year, dimension, value, day,
       coalesce(sum(n) FILTER (WHERE count = 'due'), 0),
       coalesce(sum(n) FILTER (WHERE count = 'due_closed'), 0),
       coalesce(sum(n) FILTER (WHERE count = 'overdue'), 0),
       coalesce(sum(n) FILTER (WHERE count = 'overdue_up_to_3'), 0),
       coalesce(sum(n) FILTER (WHERE count = 'overdue_from_4_to_10'), 0),
       coalesce(sum(n) FILTER (WHERE count = 'overdue_from_11_to_30'), 0),
       coalesce(sum(n) FILTER (WHERE count = 'overdue_over_30'), 0)
FROM deltas
GROUP BY department, fiscal_year, dimension, value, day
ON CONFLICT (department, fiscal_year, dimension, value, day) DO UPDATE SET
    due = case_daily.due + excluded.due,
    due_closed = case_daily.due_closed + excluded.due_closed,
    overdue = case_daily.overdue + excluded.overdue,
    overdue_up_to_3 = case_daily.overdue_up_to_3 + excluded.overdue_up_to_3,
    overdue_from_4_to_10 = case_daily.overdue_from_4_to_10 + excluded.overdue_from_4_to_10,
    overdue_from_11_to_30 = case_daily.overdue_from_11_to_30 + excluded.overdue_from_11_to_30,
    overdue_over_30 = case_daily.overdue_over_30 + excluded.overdue_over_30;

-- the projections' version (services/common/projections.py): a gateway's cached answers are old
UPDATE performance.applied_positions SET position = position;
