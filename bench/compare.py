"""What two runs of the same records must agree on, whatever happened during either: the
ledger's verdicts (event store, rejections, held records), each department's journal as a
consumer applies it, and the projections (their digest, department by department).

Used by the chaos run (bench/chaos.py) and the ledger's concurrency tests.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg

from deploy.infra import read_topic
from services.common.projections import digest

EVENTS = """SELECT event_id, stream_id, content_hash, source_topic, source_partition,
                   source_offset FROM ledger.events ORDER BY event_id"""
# a stream's events by source topic, in stream order (a stream fed from two topics, a line's
# budget and procurement events, has no order between them: their versions may differ)
STREAMS = """SELECT stream_id, source_topic, array_agg(event_id ORDER BY stream_version) AS ids
             FROM ledger.events GROUP BY 1, 2 ORDER BY 1, 2"""
REJECTIONS = """SELECT source_topic, source_partition, source_offset, reason, event_id
                FROM ledger.rejections ORDER BY 1, 2, 3, 4"""
HELD = """SELECT source_topic, source_partition, source_offset, reason, event_id
          FROM ledger.pending ORDER BY 1, 2, 3, 4"""
# nothing stored past the journal relay's cursor (in commit order: services/ledger/store/relay.py)
RELAYED = """SELECT NOT EXISTS (
    SELECT FROM ledger.events e JOIN ledger.relay_cursors c
        ON c.name = 'journal' AND (e.tx, e.position) > (c.tx, c.position))"""


class JournalError(AssertionError):
    """A department's journal, as a consumer applies it, skips or reorders its events."""


@dataclass(frozen=True)
class Snapshot:
    """One run's outcome."""

    events: list[tuple[Any, ...]]  # event_id, stream, content hash, source record
    streams: list[tuple[Any, ...]]  # stream, source topic, event ids in stream order
    rejections: list[tuple[Any, ...]]  # source record, reason, event_id
    held: list[tuple[Any, ...]]
    journal: dict[tuple[str, str], list[str]]  # (department, source topic) -> event ids applied
    digests: dict[str, str]  # department -> digest of its projections of the year

    def verdicts(self) -> Counter[tuple[Any, ...]]:
        """Every record's verdict once: an accepted event by id and content, a rejected or
        held record by its place in the log and its reason."""
        return Counter(
            [("accepted", e[0], e[2]) for e in self.events]
            + [("rejected", *r[:4]) for r in self.rejections]
            + [("held", *h[:4]) for h in self.held]
        )


async def relayed(dsn: str) -> bool:
    """Whether the relay has published every stored event to the journal."""
    conn = await asyncpg.connect(dsn)
    try:
        return bool(await conn.fetchval(RELAYED))
    finally:
        await conn.close()


async def snapshot(
    dsn: str, bootstrap: str, journal_topic: str, fiscal_year: int | None = None
) -> Snapshot:
    """Read a run's outcome; with ``fiscal_year``, the digests of its projections too.
    Raises JournalError if a department's journal, applied as the performance service applies
    it (positions already seen skipped), is not its events in the store's order."""
    conn = await asyncpg.connect(dsn)
    try:
        events = [tuple(r) for r in await conn.fetch(EVENTS)]
        streams = [(r["stream_id"], r["source_topic"], r["ids"]) for r in await conn.fetch(STREAMS)]
        rejections = [tuple(r) for r in await conn.fetch(REJECTIONS)]
        held = [tuple(r) for r in await conn.fetch(HELD)]
        order = await conn.fetch("SELECT department, event_id FROM ledger.events ORDER BY position")
        departments = sorted({r["department"] for r in order})
        digests = {}
        if fiscal_year is not None:
            digests = {d: await digest(conn, fiscal_year, d, ranked=True) for d in departments}
    finally:
        await conn.close()
    applied = await _applied(bootstrap, journal_topic)
    stored: dict[str, list[str]] = {}
    for row in order:
        stored.setdefault(row["department"], []).append(row["event_id"])
    if applied != stored:
        wrong = sorted(d for d in stored.keys() | applied.keys() if applied.get(d) != stored.get(d))
        raise JournalError(f"the journal skips or reorders events of {wrong}")
    topic_of = {e[0]: e[3] for e in events}
    journal: dict[tuple[str, str], list[str]] = {}
    for department, ids in applied.items():  # records on different topics have no order
        for event_id in ids:
            journal.setdefault((department, topic_of[event_id]), []).append(event_id)
    return Snapshot(events, streams, rejections, held, journal, digests)


async def _applied(bootstrap: str, topic: str) -> dict[str, list[str]]:
    """Each department's event ids as a consumer of the journal applies them."""
    applied: dict[str, list[str]] = {}
    last: dict[str, int] = {}
    for entry in await read_topic(bootstrap, topic):
        department = entry["event"]["department"]
        if entry["position"] > last.get(department, 0):
            last[department] = entry["position"]
            applied.setdefault(department, []).append(entry["event"]["event_id"])
    return applied


@dataclass(frozen=True)
class Comparison:
    lost: int  # verdicts of the reference run the other lacks
    double: int  # verdicts the other has beyond the reference's
    store_equal: bool  # events (streams' order, source records), rejections, held records
    journal_equal: bool
    digest_equal: bool
    differences: list[str]  # the first few of each kind, to look into

    @property
    def equal(self) -> bool:
        return (not self.lost and not self.double and self.store_equal and self.journal_equal
                and self.digest_equal)  # fmt: skip


def compare(reference: Snapshot, other: Snapshot) -> Comparison:
    expected, found = reference.verdicts(), other.verdicts()
    differences = [f"verdict lacking: {v}" for v in list(expected - found)[:3]]
    differences += [f"verdict too many: {v}" for v in list(found - expected)[:3]]
    for kind in ("events", "streams", "rejections", "held", "journal", "digests"):
        differences += _differences(kind, getattr(reference, kind), getattr(other, kind))
    return Comparison(
        lost=(expected - found).total(),
        double=(found - expected).total(),
        store_equal=(reference.events, reference.streams, reference.rejections, reference.held)
        == (other.events, other.streams, other.rejections, other.held),
        journal_equal=reference.journal == other.journal,
        digest_equal=reference.digests == other.digests,
        differences=differences,
    )


def _differences(kind: str, mine: Any, theirs: Any, shown: int = 3) -> list[str]:
    """The first rows (or keys) in which two snapshots' ``kind`` differ."""
    if isinstance(mine, dict):
        keys = sorted(mine.keys() | theirs.keys())
        found = [f"{kind} {k}: {mine.get(k)} | {theirs.get(k)}" for k in keys
                 if mine.get(k) != theirs.get(k)]  # fmt: skip
        return found[:shown]
    a, b = Counter(map(repr, mine)), Counter(map(repr, theirs))
    return [f"{kind} only in the reference: {r}" for r in list(a - b)[:shown]] + [
        f"{kind} only in the other: {r}" for r in list(b - a)[:shown]
    ]
