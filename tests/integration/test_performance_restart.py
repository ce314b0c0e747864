"""Killing the performance service mid-stream loses nothing and counts nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import asyncpg
import pytest

from demo import guandu2017 as demo
from services.common.projections import LIVE, TABLES
from tests.conftest import create_database
from tests.helpers import Stack, fetch

pytestmark = pytest.mark.integration


async def dump(dsn: str) -> dict[str, list[dict[str, object]]]:
    """Every projection table's rows, in key order."""
    return {
        table.name: await fetch(
            dsn, f"SELECT * FROM {LIVE}.{table.name} ORDER BY {', '.join(table.key_names)}"
        )
        for table in TABLES
    }


async def applied(dsn: str) -> int:
    rows = await fetch(
        dsn, "SELECT coalesce(sum(position), 0) AS n FROM performance.applied_positions"
    )
    return int(rows[0]["n"])


async def test_restart_mid_stream_matches_an_uninterrupted_run(
    database: str, pg_dsn: str, stack: Stack
) -> None:
    # a second performance service, never interrupted, projects the same journal into
    # its own database
    uninterrupted_dsn = await create_database(pg_dsn)

    stack.start("ledger")
    interrupted = stack.start("performance", PERFORMANCE_BATCH_SIZE="500")
    stack.start(
        "performance",
        as_name="performance-b",
        DATABASE_URL=uninterrupted_dsn,
        PERFORMANCE_GROUP_ID="performance-b",
    )
    events = [("budget", e) for e in demo.budget_events()]
    events += [("case", e) for e in itertools.islice(demo.case_events(), 60_000)]
    publishing = asyncio.create_task(stack.publish(events))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        with contextlib.suppress(asyncpg.UndefinedTableError):  # not migrated yet
            if await applied(database) > 0:
                break
        await asyncio.sleep(0.05)
    interrupted.kill()  # SIGKILL: no chance to finish its batch
    killed_at = await applied(database)
    offsets = await publishing
    stack.start("performance")
    status = await stack.settle(offsets)
    assert 0 < killed_at < status["ledger_by_department"], "the kill was not mid-stream"

    for _ in range(600):  # the uninterrupted service catches up too
        if await applied(uninterrupted_dsn) == status["ledger_by_department"]:
            break
        await asyncio.sleep(0.2)
    assert await dump(database) == await dump(uninterrupted_dsn)

    accepted = sum(1 for _, e in events if e["event_type"] == "CaseAccepted")
    closed = sum(1 for _, e in events if e["event_type"] == "CaseClosed")
    totals = await fetch(
        database,
        "SELECT sum(accepted) AS accepted, sum(closed) AS closed FROM performance.case_daily"
        " WHERE dimension = 'kind'",
    )
    assert totals == [{"accepted": accepted, "closed": closed}]
