-- The ledger's event store (system of record): the baseline, release 0.1's schema.
-- Release 0.1 ran this DDL at every start, without a version table; it stays idempotent
-- (IF NOT EXISTS) so that a database it created is adopted in place. Never edit a
-- migration once released: a change is a new file, 0002.ledger-<what>.sql, in this folder.
CREATE SCHEMA IF NOT EXISTS ledger;

-- Append-only. Positions are assigned and committed in order because every append
-- transaction holds the ledger's append lock (see store.py), so a reader following
-- "position > last seen" never skips an event.
CREATE TABLE IF NOT EXISTS ledger.events (
    position         bigserial PRIMARY KEY,
    event_id         text        NOT NULL UNIQUE,
    content_hash     bytea       NOT NULL,
    stream_id        text        NOT NULL,
    stream_version   integer     NOT NULL,
    event_type       text        NOT NULL,
    department       text        NOT NULL,
    fiscal_year      integer     NOT NULL,
    occurred_at      timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    payload          jsonb       NOT NULL,
    context          jsonb       NOT NULL DEFAULT '{}',
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    UNIQUE (stream_id, stream_version)
);
CREATE INDEX IF NOT EXISTS events_department_year ON ledger.events (department, fiscal_year);

-- Current state of each aggregate (a snapshot after its last event), for checking rules.
CREATE TABLE IF NOT EXISTS ledger.streams (
    stream_id text    PRIMARY KEY,
    version   integer NOT NULL,
    state     jsonb   NOT NULL
);

-- Every inbound record that was not accepted, with its original bytes. A redelivered
-- record (same topic, partition, offset and bytes) is recorded once.
CREATE TABLE IF NOT EXISTS ledger.rejections (
    rejection_id     bigserial PRIMARY KEY,
    received_at      timestamptz NOT NULL DEFAULT now(),
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    raw              bytea       NOT NULL,
    raw_sha256       bytea       NOT NULL,
    reason           text        NOT NULL,
    field            text,
    message          text        NOT NULL,
    event_id         text,
    department       text,
    UNIQUE (source_topic, source_partition, source_offset, raw_sha256)
);
CREATE INDEX IF NOT EXISTS rejections_department ON ledger.rejections (department, received_at);
-- Fixing a rejection: the CLI records the corrected event it resubmitted; once an event with
-- the rejection's event_id (or the resubmitted one) is accepted, the rejection is resolved.
ALTER TABLE ledger.rejections ADD COLUMN IF NOT EXISTS resubmitted_event_id text;
ALTER TABLE ledger.rejections ADD COLUMN IF NOT EXISTS resubmitted_at timestamptz;
ALTER TABLE ledger.rejections ADD COLUMN IF NOT EXISTS resolved_position bigint;
CREATE INDEX IF NOT EXISTS rejections_event_id ON ledger.rejections (event_id);
CREATE INDEX IF NOT EXISTS rejections_resubmitted ON ledger.rejections (resubmitted_event_id);

-- Records that arrived before the event they depend on (e.g. a Disbursed before the
-- FundsArrived covering it, which comes on another topic). Each waits for a stream
-- (waits_for) to change and is judged again then; when its hold expires it is rejected.
CREATE TABLE IF NOT EXISTS ledger.pending (
    pending_id       bigserial PRIMARY KEY,
    held_since       timestamptz NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    raw              bytea       NOT NULL,
    raw_sha256       bytea       NOT NULL,
    reason           text        NOT NULL,
    field            text,
    message          text        NOT NULL,
    waits_for        text        NOT NULL,
    event_id         text        NOT NULL,
    department       text        NOT NULL,
    UNIQUE (source_topic, source_partition, source_offset, raw_sha256)
);
CREATE INDEX IF NOT EXISTS pending_waits_for ON ledger.pending (waits_for);
CREATE INDEX IF NOT EXISTS pending_held_since ON ledger.pending (held_since);

-- How far each outbox relay has published (journal, rejections).
-- A cursor moves only forward by the relay, or back when the topic lost what was published
-- (re-publication; consumers skip what they already applied).
CREATE TABLE IF NOT EXISTS ledger.relay_cursors (
    name     text   PRIMARY KEY,
    position bigint NOT NULL
);
INSERT INTO ledger.relay_cursors VALUES ('journal', 0), ('rejected', 0) ON CONFLICT DO NOTHING;
