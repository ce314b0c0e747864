"""Replaying a fiscal year from the event store (``performance replay``): it equals the live
projections, mends broken ones, swaps in atomically while the live service keeps consuming,
leaves the live projections untouched when killed, and ``--until`` rebuilds the year as the
ledger knew it at a past moment (real PostgreSQL, Tansu, the services as processes)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from demo import guandu2017 as demo
from services.common.db import create_pool
from tests.gateway import SCHEMA as schema
from tests.gateway import context
from tests.helpers import Stack, fetch, wait_for

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Shanghai")
EVALUATION = """
query($asOf: Date) {
  departmentEvaluation(department: "GD-GRID", fiscalYear: 2017, asOf: $asOf) {
    budget { arrived spent }
    cases { reported accepted closed dispatched due overdue closureRate onTimeRate
            byAssignee { assignee dispatched closed } }
  }
  assessment(department: "GD-GRID", fiscalYear: 2017, month: 1) {
    assignees { assignee score rank }
  }
}
"""


def cases(start: int, stop: int) -> list[tuple[str, dict[str, Any]]]:
    return [("case", e) for e in itertools.islice(demo.case_events(), start, stop)]


def the_year(stop: int = 40_000) -> list[tuple[str, dict[str, Any]]]:
    return [
        *(("budget", e) for e in demo.budget_events()),
        *(("case", e) for e in demo.assessment_schemes()),
        *cases(0, stop),
    ]


def digest(stack: Stack, *args: str) -> str:
    return stack.cli("performance", "digest", "--fiscal-year", "2017", *args).strip()


def replayed_digest(output: str) -> str:
    match = re.search(r"digest ([0-9a-f]{64})", output)
    assert match, output
    return match.group(1)


async def answers(stack: Stack) -> dict[str, Any]:
    return {day: await stack.query(EVALUATION, asOf=day) for day in ("2017-01-10", None)}


async def test_a_replayed_year_equals_the_live_one_and_mends_a_broken_one(stack: Stack) -> None:
    await stack.start_all()
    await stack.settle(await stack.publish(the_year()))
    live, before = digest(stack), await answers(stack)
    assert digest(stack, "--department", "GD-GRID") != live  # the bureau's line is not in it
    shown = await stack.query(
        """{ all: projectionDigest(fiscalYear: 2017)
             grid: projectionDigest(fiscalYear: 2017, department: "GD-GRID") }"""
    )
    assert shown == {"all": live, "grid": digest(stack, "--department", "GD-GRID")}

    # a projection bug (here: a hand-made one, written as the service writes: with the
    # applied positions, which tells the gateway its cached answers are old) breaks the live
    # figures ...
    await fetch(
        stack.dsn,
        """WITH broken AS (UPDATE performance.case_daily SET closed = closed + 7
               WHERE ctid = (SELECT ctid FROM performance.case_daily
                             WHERE dimension = 'kind' AND closed > 0 ORDER BY day LIMIT 1))
           UPDATE performance.applied_positions SET position = position RETURNING 1""",
    )
    assert digest(stack) != live and await answers(stack) != before
    # ... and the replay rebuilds them from the log
    output = stack.cli("performance", "replay", "--fiscal-year", "2017")
    assert "swapped into the live projections" in output
    assert replayed_digest(output) == digest(stack) == live
    assert await answers(stack) == before
    # again with the buckets flushed every 5,000 events, and for one department: the same
    output = stack.cli("performance", "replay", "--fiscal-year", "2017", "--flush-every", "5000")
    assert replayed_digest(output) == live
    output = stack.cli("performance", "replay", "--fiscal-year", "2017", "--department", "GD-GRID")
    assert digest(stack) == live and await answers(stack) == before
    assert replayed_digest(output) == digest(stack, "--department", "GD-GRID")


async def test_the_live_service_keeps_consuming_during_a_replay(stack: Stack) -> None:
    await stack.start_all()
    await stack.settle(await stack.publish(the_year(10_000)))

    async def applied() -> int:
        rows = await fetch(
            stack.dsn, "SELECT sum(position) AS n FROM performance.applied_positions"
        )
        return int(rows[0]["n"])

    baseline = await applied()
    publishing = asyncio.create_task(stack.publish(cases(10_000, 70_000)))

    async def consuming() -> bool:
        return await applied() > baseline

    await wait_for(consuming, timeout=120, what="the live service applying new events")
    replay = subprocess.Popen(
        [sys.executable, "-m", "services.performance.cli", "replay", "--fiscal-year", "2017",
         "--chunk", "200"],
        env={**os.environ, "DATABASE_URL": stack.dsn, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    started = await applied()
    output = (await asyncio.to_thread(replay.communicate, timeout=600))[0].decode()
    assert replay.returncode == 0, output
    await stack.settle(await publishing)
    assert await applied() > started  # the live service did apply events during the replay
    # nothing lost, nothing counted twice: the live projections equal a rebuild from scratch
    # of everything the ledger recorded
    now = datetime.now(TZ).isoformat()
    output = stack.cli("performance", "replay", "--fiscal-year", "2017", "--until", now)
    assert replayed_digest(output) == digest(stack)
    closed = sum(1 for _, e in the_year(70_000) if e["event_type"] == "CaseClosed")
    totals = await stack.query(EVALUATION, asOf=None)
    assert totals["departmentEvaluation"]["cases"]["closed"] == closed


async def test_an_interrupted_replay_leaves_the_live_projections_unchanged(stack: Stack) -> None:
    await stack.start_all()
    await stack.settle(await stack.publish(the_year()))
    live, before = digest(stack), await answers(stack)
    replay = subprocess.Popen(
        [sys.executable, "-m", "services.performance.cli", "replay", "--fiscal-year", "2017",
         "--chunk", "200"],
        env={**os.environ, "DATABASE_URL": stack.dsn},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    async def rebuilding() -> bool:  # its shadow made, the replay at work
        shadow = await fetch(
            stack.dsn, "SELECT to_regclass('performance_replay_2017_all.cases') AS t"
        )
        return shadow[0]["t"] is not None

    await wait_for(rebuilding, timeout=120, what="the replay writing its shadow tables")
    assert replay.poll() is None, "the replay ended before it could be interrupted"
    replay.send_signal(signal.SIGKILL)
    replay.wait()
    assert digest(stack) == live and await answers(stack) == before
    # the next run starts afresh (the advisory lock died with the process)
    output = stack.cli("performance", "replay", "--fiscal-year", "2017")
    assert replayed_digest(output) == live and await answers(stack) == before


async def test_replay_until_a_moment_matches_the_events_recorded_by_then(stack: Stack) -> None:
    await stack.start_all()
    await stack.settle(await stack.publish(the_year(30_000)))
    moment = (await fetch(stack.dsn, "SELECT max(recorded_at) AS t FROM ledger.events"))[0]["t"]
    await asyncio.sleep(1)
    late_line = {"line_id": "GD-GRID-2017-LATE", "title": "补录", "category": "project"}
    late = [  # recorded later, though they happened in January: a line and its funds
        ("budget", late_event("BudgetAuthorised", {**late_line, "amount": "500.00"})),
        ("budget", late_event("FundsArrived", {"line_id": "GD-GRID-2017-LATE",
                                               "amount": "500.00"})),
        *cases(30_000, 45_000),
    ]  # fmt: skip
    await stack.settle(await stack.publish(late))

    output = stack.cli(
        "performance", "replay", "--fiscal-year", "2017", "--until", moment.isoformat()
    )
    snapshot = re.search(r"snapshot in schema (\w+)", output)
    assert snapshot, output
    known = [
        row
        for row in await fetch(
            stack.dsn,
            """SELECT payload::text AS event, recorded_at FROM ledger.events
               WHERE fiscal_year = 2017 AND department = 'GD-GRID'""",
        )
        if row["recorded_at"] <= moment
    ]
    assert 0 < len(known) < 45_000 * 2
    pool = await create_pool(stack.dsn, projections=snapshot.group(1))
    try:
        for day in (date(2017, 1, 20), date(2017, 12, 31)):
            result = await schema.execute(
                EVALUATION, variable_values={"asOf": day.isoformat()}, context_value=context(pool)
            )
            assert result.errors is None, result.errors
            got = result.data["departmentEvaluation"]  # type: ignore[index]
            assert got == brute_force([json.loads(r["event"]) for r in known], day, got)
    finally:
        await pool.close()
    # the live projections have everything, and differ
    live = await stack.query(EVALUATION, asOf=None)
    assert live["departmentEvaluation"]["cases"]["reported"] > got["cases"]["reported"]


def late_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": f"late-{event_type}", "event_type": event_type, "schema_version": 1,
            "occurred_at": "2017-01-15T10:00:00+08:00", "department": "GD-GRID",
            "fiscal_year": 2017, "source": "finance", "data": data}  # fmt: skip


def brute_force(events: list[dict[str, Any]], day: date, shape: dict[str, Any]) -> dict[str, Any]:
    """The evaluation's budget and case counts, counted over raw events (byAssignee and the
    rates come from the counts checked)."""
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ)
    counted = [e for e in events if datetime.fromisoformat(e["occurred_at"]) < end]

    def total(event_type: str) -> Decimal:
        return sum(
            (Decimal(e["data"]["amount"]) for e in counted if e["event_type"] == event_type),
            Decimal(0),
        )

    def stage(event_type: str) -> int:
        return len({e["data"]["case_id"] for e in counted if e["event_type"] == event_type})

    cases = shape["cases"]
    expected = {
        **cases,
        "reported": stage("CaseReported"),
        "accepted": stage("CaseAccepted"),
        "closed": stage("CaseClosed"),
        "dispatched": stage("CaseDispatched"),
    }
    return {
        "budget": {"arrived": f"{total('FundsArrived'):.2f}", "spent": f"{total('Disbursed'):.2f}"},
        "cases": expected,
    }
