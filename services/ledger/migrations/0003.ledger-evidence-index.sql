-- depends: 0002.ledger-append-only
-- The events behind a figure (the gateway's evidence): a department's events of one type in
-- a fiscal year, in ledger order, read from this index a page at a time. It starts with the
-- columns of events_department_year, which it replaces (one index less to write per append).
-- Building it takes a few seconds per million events, during which appends wait.
CREATE INDEX IF NOT EXISTS events_evidence
    ON ledger.events (department, fiscal_year, event_type, position);
DROP INDEX IF EXISTS ledger.events_department_year;
