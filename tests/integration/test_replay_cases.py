"""The replay's cases, built by PostgreSQL (services/performance/replay/cases.py), against the
live service's fold of the same events: cases of every shape (stages skipped, filed with
deadlines met and missed by every overdue age, dispatched, re-dispatched to the same or
another assignee, disposed, closed on the day of their filing or weeks later, left open),
over day boundaries in the projections' time zone; the digests must be equal."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.common.event_store import journal_after
from services.common.projections import digest
from services.common.settings import Topics
from services.ledger.ingest import ingest_batch
from services.ledger.records import InboundRecord
from services.ledger.store import PostgresLedgerStore
from services.performance.replay import replay
from services.performance.store import apply_entries
from tests.integration.conftest import LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS, migrated_pool

pytestmark = pytest.mark.integration

TZ = timezone(timedelta(hours=8))
DEPARTMENTS = ("T-GRID", "T-CGJ")
STREETS = ("T-S1", "T-S2", "T-S3")


def _event(n: int, event_type: str, at: datetime, department: str, **data: Any) -> dict[str, Any]:
    return {"event_id": f"t-{n}", "event_type": event_type, "schema_version": 1,
            "occurred_at": at.isoformat(), "department": department, "fiscal_year": 2017,
            "source": "test", "data": data}  # fmt: skip


def case_history(rng: random.Random) -> Iterator[tuple[str, datetime, dict[str, Any]]]:
    """(event type, time, data as JSON) of one case of a random shape, stages in order."""
    at = datetime(2017, 1, 1, tzinfo=TZ) + timedelta(minutes=rng.randrange(360 * 24 * 60))
    kind = rng.choice(["event", "component"])
    yield "CaseReported", at, {"channel": rng.choice(["patrol", "hotline", "video"]),
                               "category": rng.choice(["a", "b"]), "kind": kind,
                               "advance_disposal": rng.random() < 0.2}  # fmt: skip
    if rng.random() < 0.8:
        at += timedelta(minutes=rng.randrange(1, 3000))
        yield "CaseAccepted", at, {}
    if rng.random() < 0.5:
        at += timedelta(minutes=rng.randrange(1, 600))
        deadline = at + timedelta(hours=rng.choice([0.5, 5, 30, 72, 24 * 9]))
        yield "CaseFiled", at, {"deadline_at": deadline.isoformat()}
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        at += timedelta(minutes=rng.randrange(1, 2000))
        yield "CaseDispatched", at, {"assignee": rng.choice(STREETS)}
    if rng.random() < 0.5:
        at += timedelta(minutes=rng.randrange(1, 4000))
        yield "CaseDisposed", at, {}
    if rng.random() < 0.8:
        at += timedelta(minutes=rng.choice([1, 60, 600, 3000, 20000, 60000]))
        yield "CaseClosed", at, {}


def the_events(cases: int = 2500) -> list[dict[str, Any]]:
    """Departments, then the cases' events interleaved as a platform would send them."""
    rng = random.Random(2017)
    start = datetime(2017, 1, 1, tzinfo=TZ)
    events = [
        _event(i, "DepartmentRegistered", start, d, name=d) for i, d in enumerate(DEPARTMENTS)
    ]
    stages = []
    for i in range(cases):
        department = DEPARTMENTS[1] if i % 5 == 0 else DEPARTMENTS[0]
        for event_type, at, data in case_history(rng):
            stages.append((at, department, event_type, {"case_id": f"C{i}", **data}))
    stages.sort(key=lambda stage: stage[0])  # a case's stages stay in their order
    for n, (at, department, event_type, data) in enumerate(stages, start=len(events)):
        events.append(_event(n, event_type, at, department, **data))
    return events


def group(event: dict[str, Any]) -> str:
    return "case" if event["event_type"].startswith("Case") else "budget"


async def test_the_cases_built_in_sql_equal_the_live_fold(database: str) -> None:
    topics = Topics()
    topic = {group: topic for topic, group in topics.inbound().items()}
    async with migrated_pool(database, LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS) as pool:
        events = the_events()
        for offset in range(0, len(events), 2000):
            batch = events[offset : offset + 2000]
            records = [InboundRecord(topic[group(e)], 0, offset + i, json.dumps(e).encode())
                       for i, e in enumerate(batch)]  # fmt: skip
            decision = await ingest_batch(PostgresLedgerStore(pool), records, topics.inbound())
            assert not decision.refused and not decision.held, decision.refused[:1]
        async with pool.acquire() as conn:
            entries = await journal_after(conn, 0, len(events))
        assert len(entries) == len(events)
        for n in range(0, len(entries), 300):  # in batches, as the live consumer applies them
            await apply_entries(pool, entries[n : n + 300], ZoneInfo("Asia/Shanghai"))
        async with pool.acquire() as conn:
            live = await digest(conn, 2017)
            grid = await digest(conn, 2017, "T-GRID")
            redispatched = await conn.fetchval(
                """SELECT count(*) FROM (SELECT stream_id FROM ledger.events
                   WHERE event_type = 'CaseDispatched' GROUP BY 1 HAVING count(*) > 1) x"""
            )
        assert redispatched > 100  # the shapes the hand-over rules are for are there

    swapped = await replay(database, database, 2017)
    assert swapped.events == len(events) and swapped.digest == live
    snapshot = await replay(database, database, 2017, until=datetime.now(UTC))
    assert snapshot.digest == live and snapshot.schema != "performance"
    one = await replay(database, database, 2017, department="T-GRID")
    assert one.digest == grid
