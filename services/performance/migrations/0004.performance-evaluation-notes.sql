-- depends: 0003.performance-case-deadline-deltas
-- What evaluators write through the gateway (evaluation.events): the latest note on why a
-- target's actual deviates, the latest goal of a department (line_id '') or line, and every
-- signature with the figures it signed. New tables: a database projected before has no
-- such events, so they start empty.
CREATE TABLE IF NOT EXISTS performance.deviation_notes (
    department  text        NOT NULL,
    target_id   text        NOT NULL,
    fiscal_year integer     NOT NULL,
    text        text        NOT NULL,
    author      text        NOT NULL,
    written_at  timestamptz NOT NULL,
    PRIMARY KEY (department, target_id)
);
CREATE TABLE IF NOT EXISTS performance.goals (
    department  text        NOT NULL,
    fiscal_year integer     NOT NULL,
    line_id     text        NOT NULL,
    expected    text        NOT NULL,
    actual      text,
    author      text        NOT NULL,
    written_at  timestamptz NOT NULL,
    PRIMARY KEY (department, fiscal_year, line_id)
);
CREATE TABLE IF NOT EXISTS performance.signatures (
    department  text        NOT NULL,
    position    bigint      NOT NULL,
    fiscal_year integer     NOT NULL,
    line_id     text        NOT NULL,
    as_of       date        NOT NULL,
    signer      text        NOT NULL,
    signed_at   timestamptz NOT NULL,
    figures     jsonb       NOT NULL,
    digest      text        NOT NULL,
    PRIMARY KEY (department, position)
);
