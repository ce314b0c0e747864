-- depends: 0001.performance-baseline
-- Daily deltas per line and funding source (资金来源: appropriation, carryover,
-- special_account, unit, other): budgets, arrivals and spending, a reversal counted negative
-- on the reversed disbursement's source. Events without a funding_source count as
-- appropriation. A database that already holds a year's projections gets this table empty:
-- `performance replay --fiscal-year <year>` fills it from the journal.
CREATE TABLE performance.line_source_daily (
    line_id         text    NOT NULL,
    day             date    NOT NULL,
    funding_source  text    NOT NULL,
    initial_budget  numeric NOT NULL DEFAULT 0,
    adjusted_budget numeric NOT NULL DEFAULT 0,
    arrived         numeric NOT NULL DEFAULT 0,
    spent           numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (line_id, day, funding_source)
);
