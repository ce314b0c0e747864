"""Service layer: turn a batch of inbound Kafka records into accepted events and rejections.

One batch is one store transaction (``LedgerStore.batch``): parse every record, load the
state of every stream it touches in a handful of queries, decide in memory (judge.py, on the
domain rules), then write events, stream states and rejections together. The transaction
holds the locks of the departments its records name (and of the held records it loads):
batches of different departments run side by side. The relay publishes them afterwards
(transactional outbox), so nothing accepted is lost and nothing is published unstored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from schemas.events import Disbursed, DisbursementReversed
from services.ledger.domain import load_aggregate
from services.ledger.judge import Judge, streams_needed
from services.ledger.ports import LedgerBatch, LedgerStore, MoreDepartments
from services.ledger.records import Decision, Held, InboundRecord, Parsed, Refused, parse

Pending = list[tuple[Parsed | Refused, Held]]


async def ingest_batch(
    store: LedgerStore,
    records: Sequence[InboundRecord],
    topic_groups: dict[str, str],
    hold: timedelta = timedelta(0),
    now: datetime | None = None,
) -> Decision:
    """Judge a batch of inbound records (and the held records it may release) in one
    transaction. With no records, it judges the held records whose hold has expired."""
    now = now or datetime.now(UTC)
    # Parsing needs no state: done before taking the departments' locks, so that ledger
    # instances parse their batches in parallel and hold the locks only to judge and append.
    parsed = [parse(record, topic_groups) for record in records]
    named = (i.event.department if isinstance(i, Parsed) else i.department for i in parsed)
    departments = {d for d in named if d is not None}  # one naming none: only its rejection
    while True:
        try:
            return await _judged(store, departments, records, parsed, topic_groups, hold, now)
        except MoreDepartments as more:  # held records of other departments: lock them too
            departments = set(more.departments)


async def _judged(
    store: LedgerStore,
    departments: set[str],
    records: Sequence[InboundRecord],
    parsed: list[Parsed | Refused],
    topic_groups: dict[str, str],
    hold: timedelta,
    now: datetime,
) -> Decision:
    """One run of the batch's transaction, holding these departments' locks."""
    async with store.batch(departments) as batch:
        # A record judged before (same topic, partition, offset and bytes: Kafka redelivered it,
        # e.g. after a rebalance) keeps its verdict; it is never judged again on a newer state.
        judged = await batch.judged_records(records)
        items = [item for record, item in zip(records, parsed, strict=True)
                 if not judged or record.coordinates not in judged]  # fmt: skip
        judge = Judge({}, {}, {}, now, hold)
        judge.decision.redelivered = len(records) - len(items)
        keys = await _load_state(batch, judge, [i for i in items if isinstance(i, Parsed)])
        pending = _reparsed(await batch.pending(keys, now - hold), topic_groups)
        await _load_state(batch, judge, _parsed(pending))
        for item, held in pending:
            judge.load(item, held)
        for item in items:
            judge.judge(item)
        await _release_further(batch, judge, keys, pending, topic_groups)
        decision = judge.finish()
        await batch.append(decision)
    return decision


async def _release_further(
    batch: LedgerBatch,
    judge: Judge,
    loaded: set[str],
    pending: Pending,
    topic_groups: dict[str, str],
) -> None:
    """A released record can release others that wait on streams this batch did not touch:
    judge those too, until no accepted event changed a key whose held records are unloaded."""
    loaded, pending_ids = set(loaded), {held.pending_id for _, held in pending}
    while extra := judge.changed - loaded:
        loaded |= extra
        more = [
            p
            for p in _reparsed(await batch.pending(extra), topic_groups)
            if p[1].pending_id not in pending_ids
        ]
        pending_ids |= {held.pending_id for _, held in more}
        await _load_state(batch, judge, _parsed(more))
        for item, held in more:
            judge.judge(item, held)


def _reparsed(held: list[Held], topic_groups: dict[str, str]) -> Pending:
    """Stored held records, each parsed again (the store keeps their original bytes)."""
    return [(parse(h.record, topic_groups), h) for h in held]


def _parsed(pending: Pending) -> list[Parsed]:
    return [item for item, _ in pending if isinstance(item, Parsed)]


async def _load_state(batch: LedgerBatch, judge: Judge, parsed: list[Parsed]) -> set[str]:
    """Load what judging these events reads that the judge does not know yet; return the
    keys (streams, ``event:<id>``) their acceptance may change."""
    judge.seen.update(
        await batch.known_hashes(
            [p.event.event_id for p in parsed if p.event.event_id not in judge.seen]
        )
    )
    disbursements = judge.refs.disbursements
    reversals = [p.event.data.reverses for p in parsed if isinstance(p.event, DisbursementReversed)]
    disbursements.update(
        await batch.disbursements([r for r in reversals if r not in disbursements])
    )
    # a reversal may point at a Disbursed earlier in this very batch
    disbursed_lines = {
        p.event.event_id: p.event.data.line_id for p in parsed if isinstance(p.event, Disbursed)
    }
    disbursed_lines.update({eid: d.line_id for eid, d in disbursements.items()})
    needed = streams_needed(parsed, disbursed_lines)
    aggregates = judge.decision.aggregates
    rows = await batch.load_streams(needed - aggregates.keys())
    for sid, (version, state) in rows.items():
        aggregates[sid] = load_aggregate(sid, version, state)
        judge.decision.expected_versions[sid] = version
    return needed | {f"event:{p.event.event_id}" for p in parsed}
