-- Performance projections (schema performance): the baseline, release 0.1's schema.
-- Release 0.1 ran this DDL at every start, without a version table; it stays idempotent
-- (IF NOT EXISTS) so that a database it created is adopted in place. Never edit a
-- migration once released: a change is a new file, 0002.performance-<what>.sql, in this folder.
-- Everything an "as of T" question needs is kept in daily buckets, so a query sums at
-- most one row per day and dimension, whatever the number of events.
CREATE SCHEMA IF NOT EXISTS performance;

-- Last journal position applied per department, written in the same transaction as
-- the projection rows it produced (exactly-once effect without Kafka transactions).
CREATE TABLE IF NOT EXISTS performance.applied_positions (
    department text   PRIMARY KEY,
    position   bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS performance.departments (
    code                 text PRIMARY KEY,
    name                 text NOT NULL,
    parent               text,
    headcount_authorised integer,
    headcount_actual     integer
);

CREATE TABLE IF NOT EXISTS performance.lines (
    line_id        text    PRIMARY KEY,
    department     text    NOT NULL,
    fiscal_year    integer NOT NULL,
    title          text    NOT NULL,
    category       text    NOT NULL,
    funding_source text    NOT NULL,
    sangong        text
);
CREATE INDEX IF NOT EXISTS lines_department ON performance.lines (department, fiscal_year);

-- Daily deltas per line (money exact: NUMERIC).
CREATE TABLE IF NOT EXISTS performance.line_daily (
    line_id             text    NOT NULL,
    day                 date    NOT NULL,
    initial_budget      numeric NOT NULL DEFAULT 0,
    adjusted_budget     numeric NOT NULL DEFAULT 0,
    arrived             numeric NOT NULL DEFAULT 0,
    transferred         numeric NOT NULL DEFAULT 0,
    spent               numeric NOT NULL DEFAULT 0,
    procurement_planned numeric NOT NULL DEFAULT 0,
    contracted          numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (line_id, day)
);

CREATE TABLE IF NOT EXISTS performance.line_spending_daily (
    line_id             text    NOT NULL,
    day                 date    NOT NULL,
    economic_class      text    NOT NULL,
    spending_department text    NOT NULL,
    spent               numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (line_id, day, economic_class, spending_department)
);

-- One row per case with the time of each stage (what due / on-time questions need).
CREATE TABLE IF NOT EXISTS performance.cases (
    department       text    NOT NULL,
    case_id          text    NOT NULL,
    channel          text    NOT NULL,
    category         text    NOT NULL,
    kind             text    NOT NULL,
    advance_disposal boolean NOT NULL,
    reported_at      timestamptz,
    accepted_at      timestamptz,
    filed_at         timestamptz,
    deadline_at      timestamptz,
    dispatched_at    timestamptz,
    assignee         text,
    disposed_at      timestamptz,
    closed_at        timestamptz,
    PRIMARY KEY (department, case_id)
);
-- the fiscal year of its CaseReported (a replay rebuilds a year's cases)
ALTER TABLE performance.cases ADD COLUMN IF NOT EXISTS fiscal_year integer;

-- Daily case counts per dimension ('channel', 'category', 'kind', and 'assignee' from a
-- case's dispatch on); totals are the sum over 'kind', since every case has exactly one.
CREATE TABLE IF NOT EXISTS performance.case_daily (
    department        text    NOT NULL,
    fiscal_year       integer NOT NULL,
    dimension         text    NOT NULL,
    value             text    NOT NULL,
    day               date    NOT NULL,
    reported          integer NOT NULL DEFAULT 0,
    accepted          integer NOT NULL DEFAULT 0,
    filed             integer NOT NULL DEFAULT 0,
    dispatched        integer NOT NULL DEFAULT 0,
    disposed          integer NOT NULL DEFAULT 0,
    closed            integer NOT NULL DEFAULT 0,
    advance_disposals integer NOT NULL DEFAULT 0,
    PRIMARY KEY (department, fiscal_year, dimension, value, day)
);
ALTER TABLE performance.case_daily ADD COLUMN IF NOT EXISTS closed_on_time integer NOT NULL DEFAULT 0;
ALTER TABLE performance.case_daily ADD COLUMN IF NOT EXISTS closed_accepted integer NOT NULL DEFAULT 0;

-- Filed cases by deadline day and closing day (9999-12-31 while not closed), per dimension
-- ('assignee' too: a case moves to its assignee when dispatched, and on a re-dispatch),
-- each row counting from since_day on: "due", "overdue" and "closed before the deadline" as
-- of any day T are sums over it, so their cost depends on days, not on the number of cases.
CREATE TABLE IF NOT EXISTS performance.case_deadlines (
    department   text    NOT NULL,
    fiscal_year  integer NOT NULL,
    dimension    text    NOT NULL,
    value        text    NOT NULL,
    deadline_day date    NOT NULL,
    closed_day   date    NOT NULL,
    since_day    date    NOT NULL,
    cases        integer NOT NULL,
    PRIMARY KEY (department, fiscal_year, dimension, value, deadline_day, closed_day, since_day)
);

-- Performance targets (PerformanceTargetSet); the same target_id again replaces it.
CREATE TABLE IF NOT EXISTS performance.targets (
    department  text    NOT NULL,
    target_id   text    NOT NULL,
    fiscal_year integer NOT NULL,
    line_id     text,
    level1      text    NOT NULL,
    level2      text    NOT NULL,
    name        text    NOT NULL,
    metric      text    NOT NULL,
    comparator  text    NOT NULL,
    value       numeric NOT NULL,
    unit        text    NOT NULL,
    weight      numeric NOT NULL,
    PRIMARY KEY (department, target_id)
);

-- Outputs recorded per day (OutputRecorded); line_id '' for a department-level output.
CREATE TABLE IF NOT EXISTS performance.outputs_daily (
    department  text    NOT NULL,
    fiscal_year integer NOT NULL,
    indicator   text    NOT NULL,
    unit        text    NOT NULL,
    line_id     text    NOT NULL,
    day         date    NOT NULL,
    quantity    numeric NOT NULL,
    PRIMARY KEY (department, fiscal_year, indicator, unit, line_id, day)
);

-- Monthly assessment schemes (AssessmentSchemeSet) by journal position: the scheme scoring a
-- month, as of a day, is the last recorded by then whose effective month has begun.
CREATE TABLE IF NOT EXISTS performance.assessment_schemes (
    department      text    NOT NULL,
    position        bigint  NOT NULL,
    fiscal_year     integer NOT NULL,
    effective_month integer NOT NULL,
    set_day         date    NOT NULL,
    indicators      jsonb   NOT NULL,
    document        text,
    PRIMARY KEY (department, position)
);
