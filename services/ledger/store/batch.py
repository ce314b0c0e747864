"""The ledger's event store on PostgreSQL (schema ``ledger``): a batch's transaction, which
reads the state the judge needs and appends its decision (``LedgerStore``, ports.py).

Appends lock departments, not the ledger: a batch's transaction holds, until it commits, the
advisory lock of every department it writes (its records' departments, and those of the
held records it loads), so batches of one department run one after the other and batches of
different departments side by side. Only then, before its first write, is the transaction's
xid drawn; each row stores it (``tx``). Within a department, xid order is therefore position
order and commit order, which is what the relays follow (store/relay.py): (tx, position),
up to the oldest transaction still running, never "position > cursor" alone (a batch of
another department may commit smaller positions later).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from schemas.events import Disbursed
from schemas.messages import JournalContext, ReversedDisbursement
from schemas.versions import event_adapter, upcast
from services.ledger.domain.base import NO_CONTEXT
from services.ledger.ports import ConcurrencyConflict, MoreDepartments
from services.ledger.records import Coordinates, Decision, Held, InboundRecord
from services.ledger.store.relay import notify_appended

# a department's lock key; locks are waited for in ascending key order only (no deadlock)
_KEY = "hashtext('ledger.append:' || d)"
LOCK_DEPARTMENTS = f"""SELECT k, pg_advisory_xact_lock(k) FROM unnest(ARRAY(
    SELECT DISTINCT {_KEY} FROM unnest($1::text[]) d ORDER BY 1)) k"""
LOCK_KEYS = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::int[]) k"  # in the array's order
TRY_KEYS = "SELECT bool_and(pg_try_advisory_xact_lock(k)) FROM unnest($1::int[]) k"
KEYS = f"SELECT DISTINCT {_KEY} AS k FROM unnest($1::text[]) d"
DRAW_XID = "SELECT pg_current_xact_id()"

_EVENT_COLUMNS = [
    "event_id",
    "content_hash",
    "stream_id",
    "stream_version",
    "event_type",
    "department",
    "fiscal_year",
    "occurred_at",
    "payload",
    "context",
    "source_topic",
    "source_partition",
    "source_offset",
]


def _context_json(context: JournalContext) -> str:
    """An accepted event's journal context as stored (most have none to tell)."""
    return "{}" if context is NO_CONTEXT else context.model_dump_json(exclude_none=True)


class PostgresLedgerStore:
    """``LedgerStore`` on a pool of the ledger's database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def batch(self, departments: Iterable[str]) -> AsyncIterator[PostgresBatch]:
        async with self.pool.acquire() as conn, conn.transaction():
            # The departments' locks, held until commit, in ascending key order: two ledger
            # instances never decide on one department's stream states at once, and within a
            # department positions (bigserial) commit in the order they are drawn. Another
            # department's batch runs meanwhile: it may commit smaller positions later, which
            # the relays allow for (the xid each row stores, drawn by ``append``). The stream
            # versions stay as a second, independent guard (a stream another department's
            # events read or create, e.g. a line named by the wrong department).
            work = PostgresBatch(conn)
            await work.lock(departments)
            yield work

    async def has_expired(self, held_before: datetime) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM ledger.pending WHERE held_since <= $1)", held_before
            )
        )


class PostgresBatch:
    """``LedgerBatch``: one transaction on one connection, holding its departments' locks."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.departments: set[str] = set()  # locked
        self.keys: set[int] = set()  # their lock keys
        self.xid_drawn = False

    async def lock(self, departments: Iterable[str]) -> None:
        """Take the locks of these departments this transaction does not hold yet, before its
        xid is drawn. A lock is waited for only if its key is above every key held (so no
        two batches wait for each other); one below is only tried, and if another batch
        holds it, this batch is run again from the start with all of them
        (``MoreDepartments``)."""
        wanted = set(departments) - self.departments
        if not wanted:
            return
        assert not self.xid_drawn, "a department locked after the transaction's xid was drawn"
        if not self.keys:  # the batch's own departments: one round trip
            rows = await self.conn.fetch(LOCK_DEPARTMENTS, sorted(wanted))
            self.keys.update(row["k"] for row in rows)
            self.departments |= wanted
            return
        new = {row["k"] for row in await self.conn.fetch(KEYS, sorted(wanted))} - self.keys
        top = max(self.keys)
        below = sorted(k for k in new if k < top)
        if below and not await self.conn.fetchval(TRY_KEYS, below):
            raise MoreDepartments(self.departments | wanted)
        if above := sorted(new - set(below)):
            await self.conn.execute(LOCK_KEYS, above)
        self.keys |= new
        self.departments |= wanted

    async def judged_records(self, records: Sequence[InboundRecord]) -> set[Coordinates]:
        """Coordinates (topic, partition, offset, sha256) of these records already rejected or
        held."""
        ranges: dict[tuple[str, int], list[int]] = {}
        for r in records:
            span = ranges.setdefault((r.topic, r.partition), [r.offset, r.offset])
            span[0], span[1] = min(span[0], r.offset), max(span[1], r.offset)
        if not ranges:
            return set()
        rows = await self.conn.fetch(
            """
            WITH r (topic, part, lo, hi) AS (
                SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]))
            SELECT source_topic, source_partition, source_offset, raw_sha256
            FROM ledger.rejections j JOIN r ON j.source_topic = r.topic
                AND j.source_partition = r.part AND j.source_offset BETWEEN r.lo AND r.hi
            UNION ALL
            SELECT source_topic, source_partition, source_offset, raw_sha256
            FROM ledger.pending p JOIN r ON p.source_topic = r.topic
                AND p.source_partition = r.part AND p.source_offset BETWEEN r.lo AND r.hi
            """,
            [k[0] for k in ranges],
            [k[1] for k in ranges],
            [v[0] for v in ranges.values()],
            [v[1] for v in ranges.values()],
        )
        return {(row[0], row[1], row[2], bytes(row[3])) for row in rows}

    async def pending(
        self, waits_for: Iterable[str], expired_before: datetime | None = None
    ) -> list[Held]:
        """Held records waiting for one of these keys (or held since before ``expired_before``),
        oldest first; read again once the locks of departments not held yet are taken (a
        batch holding one may have released them meanwhile)."""
        keys = list(waits_for)
        while True:
            rows = await self.conn.fetch(
                """
                SELECT * FROM ledger.pending
                WHERE waits_for = ANY($1::text[]) OR held_since <= $2
                ORDER BY held_since, pending_id
                """,
                keys,
                expired_before,
            )
            unlocked = {row["department"] for row in rows} - self.departments
            if not unlocked:
                break
            await self.lock(unlocked)
        return [
            Held(
                InboundRecord(
                    row["source_topic"],
                    row["source_partition"],
                    row["source_offset"],
                    bytes(row["raw"]),
                ),
                row["reason"],
                row["field"],
                row["message"],
                row["waits_for"],
                row["held_since"],
                row["event_id"],
                row["department"],
                row["pending_id"],
            )
            for row in rows
        ]

    async def known_hashes(self, event_ids: list[str]) -> dict[str, bytes]:
        if not event_ids:
            return {}
        rows = await self.conn.fetch(
            "SELECT event_id, content_hash FROM ledger.events WHERE event_id = ANY($1::text[])",
            event_ids,
        )
        return {row["event_id"]: bytes(row["content_hash"]) for row in rows}

    async def disbursements(self, event_ids: list[str]) -> dict[str, ReversedDisbursement]:
        """Accepted Disbursed events by id, as the journal context of a reversal describes
        them."""
        if not event_ids:
            return {}
        rows = await self.conn.fetch(
            """
            SELECT event_id, payload::text FROM ledger.events
            WHERE event_id = ANY($1::text[]) AND event_type = 'Disbursed'
            """,
            event_ids,
        )
        found = {}
        for row in rows:  # stored in the version it came in
            event = upcast(event_adapter.validate_json(row["payload"]))
            assert isinstance(event, Disbursed)
            found[row["event_id"]] = ReversedDisbursement.of(event)
        return found

    async def load_streams(
        self, stream_ids: Iterable[str]
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        ids = list(stream_ids)
        if not ids:
            return {}
        rows = await self.conn.fetch(
            "SELECT stream_id, version, state FROM ledger.streams"
            " WHERE stream_id = ANY($1::text[])",
            ids,
        )
        return {row["stream_id"]: (row["version"], json.loads(row["state"])) for row in rows}

    async def append(self, decision: Decision) -> None:
        """Write a batch's decision, under the locks of the departments it writes (all taken
        by now, normally: ``lock`` takes any other first). The transaction's xid is drawn
        here, before the first write and after the last lock (every row stores it: ``tx``):
        a later batch of one of these departments draws a larger one."""
        await self.lock(
            {a.event.department for a in decision.accepted}
            | {r.department for r in decision.refused if r.department is not None}
            | {h.department for h in decision.held}
        )
        await self.conn.execute(DRAW_XID)
        self.xid_drawn = True
        if decision.accepted:
            await self._insert_events(decision)
            await self._save_streams(decision)
        if decision.refused:
            await self._insert_rejections(decision)
        if decision.released:
            await self.conn.execute(
                "DELETE FROM ledger.pending WHERE pending_id = ANY($1::bigint[])",
                decision.released,
            )
        await self._insert_held([h for h in decision.held if h.pending_id is None])
        if decision.accepted:
            await self._resolve_rejections([a.event.event_id for a in decision.accepted])
        if decision.accepted or decision.refused:
            await notify_appended(self.conn)  # wakes the relays once this transaction commits

    async def _insert_events(self, decision: Decision) -> None:
        await self.conn.copy_records_to_table(
            "events",
            schema_name="ledger",
            columns=_EVENT_COLUMNS,
            records=[
                (
                    a.event.event_id,
                    a.content_hash,
                    a.stream_id,
                    a.stream_version,
                    a.event.event_type,
                    a.event.department,
                    a.event.fiscal_year,
                    a.event.occurred_at,
                    a.payload,
                    "{}"
                    if a.context is NO_CONTEXT
                    else a.context.model_dump_json(exclude_none=True),
                    a.record.topic,
                    a.record.partition,
                    a.record.offset,
                )
                for a in decision.accepted
            ],
        )

    async def _save_streams(self, decision: Decision) -> None:
        changed = [
            (sid, agg.version, json.dumps(agg.state()), decision.expected_versions[sid])
            for sid, agg in decision.aggregates.items()
            if agg.version != decision.expected_versions[sid]
        ]
        created = [(sid, v, s) for sid, v, s, expected in changed if expected == 0]
        updated = [row for row in changed if row[3] != 0]
        if created:
            # a concurrent creator would make this fail with a unique violation: the batch is
            # retried
            await self.conn.execute(
                """
                INSERT INTO ledger.streams (stream_id, version, state)
                SELECT * FROM unnest($1::text[], $2::int[], $3::jsonb[])
                """,
                [c[0] for c in created],
                [c[1] for c in created],
                [c[2] for c in created],
            )
        if updated:
            status = await self.conn.execute(
                """
                UPDATE ledger.streams s SET version = u.version, state = u.state
                FROM unnest($1::text[], $2::int[], $3::jsonb[], $4::int[])
                    AS u(stream_id, version, state, expected)
                WHERE s.stream_id = u.stream_id AND s.version = u.expected
                """,
                [u[0] for u in updated],
                [u[1] for u in updated],
                [u[2] for u in updated],
                [u[3] for u in updated],
            )
            if int(status.split()[-1]) != len(updated):
                raise ConcurrencyConflict(f"{len(updated)} streams expected, {status}")

    async def _insert_rejections(self, decision: Decision) -> None:
        await self.conn.executemany(
            """
            INSERT INTO ledger.rejections (source_topic, source_partition, source_offset, raw,
                raw_sha256, reason, field, message, event_id, department)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (source_topic, source_partition, source_offset, raw_sha256) DO NOTHING
            """,
            [
                (*_source(r.record), r.reason, r.field, r.message, r.event_id, r.department)
                for r in decision.refused
            ],
        )

    async def _insert_held(self, held: list[Held]) -> None:
        if not held:
            return
        await self.conn.executemany(
            """
            INSERT INTO ledger.pending (source_topic, source_partition, source_offset, raw,
                raw_sha256, reason, field, message, waits_for, event_id, department, held_since)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """,
            [
                (
                    *_source(h.record),
                    h.reason,
                    h.field,
                    h.message,
                    h.waits_for,
                    h.event_id,
                    h.department,
                    h.held_since,
                )
                for h in held
            ],
        )

    async def _resolve_rejections(self, accepted_ids: list[str]) -> None:
        """A rejection is resolved once an event with its event_id (or the event_id it was
        resubmitted as) is accepted. A duplicate_event_id_conflict rejection names an event
        that was accepted before it; only a resubmission resolves it."""
        await self.conn.execute(
            """
            UPDATE ledger.rejections r SET resolved_position = (
                SELECT position FROM ledger.events e
                WHERE e.event_id = ANY($1::text[])
                  AND e.event_id IN (r.event_id, r.resubmitted_event_id) LIMIT 1)
            WHERE r.resolved_position IS NULL
              AND (r.resubmitted_event_id = ANY($1::text[])
                   OR (r.event_id = ANY($1::text[]) AND r.reason <> 'duplicate_event_id_conflict'))
            """,
            accepted_ids,
        )


def _source(record: InboundRecord) -> tuple[str, int, int, bytes, bytes]:
    return record.topic, record.partition, record.offset, record.value or b"", record.sha256
