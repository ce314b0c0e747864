-- depends: 0003.ledger-evidence-index
-- The order the relays publish in, without one append lock for every ledger instance.
-- Appends now lock only the departments they write (services/ledger/store/batch.py), so
-- positions of different departments may commit out of the order they were drawn in, and
-- "position > cursor" could skip a row that commits after a larger one was published. Each
-- row therefore records the transaction that wrote it (tx, its 64-bit xid, drawn once the
-- transaction holds its departments' locks): within a department, xid order is position
-- order and commit order. The relays follow (tx, position), reading only rows of
-- transactions below the snapshot's xmin (all ended): a row can never appear later before
-- the cursor (services/ledger/store/relay.py).
--
-- Rows stored before keep tx 0 (the constant default fills them without rewriting the
-- table), so they stay in position order and before every later row; new rows get their
-- transaction's xid. The relay cursors become (tx, position): (0, their position) is where
-- they were. Every ledger instance must run the release with this migration: an older one
-- would append under the old global lock only, and relay by position.
-- Building the indexes takes a few seconds per million rows, during which appends wait.
ALTER TABLE ledger.events ADD COLUMN tx xid8 NOT NULL DEFAULT '0';
ALTER TABLE ledger.events ALTER COLUMN tx SET DEFAULT pg_current_xact_id();
CREATE INDEX events_commit_order ON ledger.events (tx, position);

ALTER TABLE ledger.rejections ADD COLUMN tx xid8 NOT NULL DEFAULT '0';
ALTER TABLE ledger.rejections ALTER COLUMN tx SET DEFAULT pg_current_xact_id();
CREATE INDEX rejections_commit_order ON ledger.rejections (tx, rejection_id);

ALTER TABLE ledger.relay_cursors ADD COLUMN tx xid8 NOT NULL DEFAULT '0';
