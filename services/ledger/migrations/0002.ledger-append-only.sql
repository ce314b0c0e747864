-- depends: 0001.ledger-baseline
-- The event store is append-only, enforced by the database itself (a second guard beside the
-- roles' privileges, deploy/provision.py, which give no one UPDATE, DELETE or TRUNCATE on it):
-- even its owner or a superuser is refused. Maintenance that must remove rows (a test that
-- empties the store) runs as a superuser with `SET LOCAL session_replication_role = replica`,
-- under which PostgreSQL fires no ordinary trigger (TRUNCATE triggers included).
-- And the audit of operator actions: one row per invocation of an operator command that
-- changes something (`ledger rejections resubmit`, `ledger journal republish`,
-- `performance replay`), append-only too.

CREATE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % on %.% is refused',
        TG_ARGV[0], TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING HINT = 'rows are never changed or removed; for maintenance on a copy, a '
            'superuser may SET LOCAL session_replication_role = replica';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ledger.events
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change('the event store');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON ledger.events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change('the event store');

CREATE TABLE ledger.operator_actions (
    action_id   bigserial   PRIMARY KEY,
    actor       text        NOT NULL,  -- OPERATOR_NAME, or <os user>@<hostname>
    action      text        NOT NULL,  -- the command, e.g. 'rejections resubmit'
    arguments   jsonb       NOT NULL,  -- the options given
    department  text,
    fiscal_year integer,
    outcome     text        NOT NULL CHECK (outcome IN ('ok', 'failed')),
    detail      text,                  -- the error's one-line message (or what was done)
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_actions_started ON ledger.operator_actions (started_at);

CREATE TRIGGER operator_actions_append_only BEFORE UPDATE OR DELETE ON ledger.operator_actions
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change('the audit of operator actions');
CREATE TRIGGER operator_actions_no_truncate BEFORE TRUNCATE ON ledger.operator_actions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change('the audit of operator actions');
