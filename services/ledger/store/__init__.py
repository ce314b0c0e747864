"""Adapter: the ledger's PostgreSQL store (schema ``ledger``). Every statement on the ledger's
tables is in this package: a batch's transaction (batch.py), rejected and held records
(rejections.py), the relays' cursors and leadership (relay.py). The journal itself is read
with ``services.common.event_store``, which the performance service's replay shares."""

from services.ledger.ports import ConcurrencyConflict
from services.ledger.store.batch import PostgresBatch, PostgresLedgerStore

__all__ = ["ConcurrencyConflict", "PostgresBatch", "PostgresLedgerStore"]
