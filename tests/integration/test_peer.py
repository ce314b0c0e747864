"""The peer benchmark (bench/peer.py): the eventsourcing library stores every event given
to it, and its projection, rebuilt from the notification log, counts every one of them
(real PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from decimal import Decimal

import psycopg
import pytest

from bench import peer
from bench.city_year import district_budget, district_cases

pytestmark = pytest.mark.integration


async def test_the_peer_appends_and_rebuilds_every_event(database: str) -> None:
    rng = random.Random("peer")
    events = [*itertools.islice(district_budget(1, rng), 1000),
              *itertools.islice(district_cases(1, rng), 1000)]  # fmt: skip
    appended = await asyncio.to_thread(peer.append, database, events, 300)
    rebuilt = await asyncio.to_thread(peer.rebuild, database)
    assert appended.events == rebuilt.events == 2000

    with psycopg.connect(database) as conn:
        stored = conn.execute(f"SELECT count(*) FROM {peer.EVENTS_TABLE}").fetchone()
        stages = conn.execute(f"SELECT stage, channel, sum(n) FROM {peer.CASE_DAILY} "
                              "GROUP BY stage, channel").fetchall()  # fmt: skip
        money = conn.execute(f"SELECT kind, sum(amount), sum(n) FROM {peer.LINE_DAILY} "
                             "GROUP BY kind").fetchall()  # fmt: skip
    assert stored == (2000,)
    reported = Counter(e["data"]["channel"] for _, e in events if e["event_type"] == "CaseReported")
    assert {c: n for stage, c, n in stages if stage == "reported"} == reported
    closed = sum(e["event_type"] == "CaseClosed" for _, e in events)
    assert sum(n for stage, _, n in stages if stage == "closed") == closed
    disbursed = [Decimal(e["data"]["amount"]) for _, e in events if e["event_type"] == "Disbursed"]
    assert ("disbursed", sum(disbursed), len(disbursed)) in money
