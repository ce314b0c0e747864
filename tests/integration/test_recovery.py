"""Out-of-order arrival across topics, the journal re-published after the broker lost it, and
the relay elected again after the database dropped its connections."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from demo import guandu2017 as demo
from deploy.infra import create_topics, read_topic, wait_http
from services.ledger.store.relay import relay_leader
from tests.conftest import KafkaTarget
from tests.helpers import Stack, fetch, wait_for

pytestmark = pytest.mark.integration

FIGURES = """
query {
  departmentEvaluation(department: "GD-CGJ", fiscalYear: 2017) {
    budget { adjustedBudget arrived spent arrivalRate executionRate }
    procurement { planned contracted procurementExecutionRate }
  }
}
"""


def procurement_events() -> list[dict[str, Any]]:
    template = next(demo.budget_events())

    def event(event_id: str, event_type: str, **data: str) -> dict[str, Any]:
        return {
            **template,
            "event_id": event_id,
            "event_type": event_type,
            "department": demo.BUREAU,
            "source": "procurement",
            "occurred_at": "2017-03-01T10:00:00+08:00",
            "data": data,
        }

    return [
        event(
            "proc-1",
            "ProcurementPlanned",
            procurement_id="P-2017-1",
            line_id=demo.ZHGD_LINE,
            amount="800000.00",
            method="open_tender",
        ),
        event(
            "proc-2",
            "ContractAwarded",
            procurement_id="P-2017-1",
            contract_id="K-1",
            supplier="云南某科技有限公司",
            amount="600000.00",
        ),
    ]


async def test_procurement_published_before_its_budget_line_waits_for_it(
    database: str, kafka: KafkaTarget, stack: Stack
) -> None:
    await stack.start_all()
    # the procurement system is faster than the finance system
    await stack.settle(await stack.publish(("procurement", e) for e in procurement_events()))
    held = stack.ledger_cli("held")
    assert "unknown_budget_line" in held and "unknown_procurement" in held
    assert await fetch(database, "SELECT count(*) AS n FROM ledger.rejections") == [{"n": 0}]

    await stack.settle(await stack.publish(("budget", e) for e in demo.budget_events()))
    rows = await fetch(
        database, "SELECT event_id FROM ledger.events WHERE event_id LIKE 'proc-%' ORDER BY 1"
    )
    assert [r["event_id"] for r in rows] == ["proc-1", "proc-2"]
    assert await fetch(database, "SELECT count(*) AS n FROM ledger.pending") == [{"n": 0}]
    figures = await stack.query(FIGURES)
    assert figures["departmentEvaluation"]["procurement"] == {
        "planned": "800000.00",
        "contracted": "600000.00",
        "procurementExecutionRate": "0.7500",
    }


async def journal_positions(kafka: KafkaTarget) -> list[int]:
    return sorted(
        e["position"] for e in await read_topic(kafka.bootstrap, kafka.topics.ledger_journal)
    )


@pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="restarts the embedded broker"
)
async def test_the_journal_is_published_again_after_the_broker_lost_it(
    database: str, kafka: KafkaTarget, stack: Stack
) -> None:
    assert kafka.broker is not None
    await stack.start_all(LEDGER_TOPIC_CHECK_SECONDS="1")
    budget = list(demo.budget_events())
    await stack.settle(await stack.publish(("budget", e) for e in budget))
    accepted = len(budget)
    assert await journal_positions(kafka) == list(range(1, accepted + 1))
    before = await stack.query(FIGURES)
    applied = await fetch(database, "SELECT * FROM performance.applied_positions ORDER BY 1")

    # the memory-only development broker restarts: every topic is empty again
    kafka.broker.stop()
    kafka.broker.start()
    await create_topics(kafka.bootstrap, kafka.topics.all())

    async def republished() -> bool:
        return await journal_positions(kafka) == list(range(1, accepted + 1))

    await wait_for(republished, timeout=120, what="journal re-published")
    await asyncio.sleep(3)  # the performance service has re-read it by now
    assert await stack.query(FIGURES) == before
    assert await fetch(database, "SELECT * FROM performance.applied_positions ORDER BY 1") == (
        applied
    )

    # the pipeline carries on: a new adjustment is projected once
    adjustment = {
        **next(e for e in budget if e["data"].get("line_id") == demo.ZHGD_LINE),
        "event_id": "late-adjustment",
        "event_type": "BudgetAdjusted",
        "occurred_at": "2017-12-20T10:00:00+08:00",
        "data": {"line_id": demo.ZHGD_LINE, "amount": "100.00", "reason": "追加"},
    }
    await stack.settle(await stack.publish([("budget", adjustment)]), timeout=120)
    adjusted = (await stack.query(FIGURES))["departmentEvaluation"]["budget"]["adjustedBudget"]
    was = before["departmentEvaluation"]["budget"]["adjustedBudget"]
    assert Decimal(adjusted) == Decimal(was) + 100

    # and an operator can re-publish by hand: consumers skip what they applied
    after_arrival = await stack.query(FIGURES)
    stack.ledger_cli("journal", "republish")

    async def twice() -> bool:
        return len(await journal_positions(kafka)) == 2 * (accepted + 1)

    await wait_for(twice, timeout=120, what="journal re-published by hand")
    await asyncio.sleep(3)
    assert await stack.query(FIGURES) == after_arrival


async def leader(database: str) -> int | None:
    conn = await asyncpg.connect(database)
    try:
        return await relay_leader(conn)
    finally:
        await conn.close()


async def test_the_relay_is_elected_again_after_the_database_dropped_its_connections(
    database: str, kafka: KafkaTarget, stack: Stack
) -> None:
    ledgers = [stack.start("ledger"), stack.start("ledger", as_name="ledger-2")]
    for label, process in zip(("ledger", "ledger-2"), ledgers, strict=True):
        await wait_http(stack.url(label, "/readyz"), process=process)
    pids = {p.process.pid: p for p in ledgers if p.process is not None}

    async def led() -> bool:
        return await leader(database) in pids

    await wait_for(led, timeout=60, what="a relay leader")
    # the database ends the relay's sessions, the leader's and the one waiting to lead (as a
    # restart does): both stand for election again
    await fetch(
        database,
        """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name LIKE 'ledger relay (pid %'""",
    )
    await asyncio.sleep(3)
    await wait_for(led, timeout=60, what="a relay leader again")
    leading = await leader(database)
    assert leading is not None
    pids[leading].kill()  # the other one takes over
    (other,) = set(pids) - {leading}

    async def took_over() -> bool:
        return await leader(database) == other

    await wait_for(took_over, timeout=60, what="the other instance leading")
    budget = list(demo.budget_events())[:5]
    await stack.publish(("budget", e) for e in budget)

    async def relayed() -> bool:
        return await journal_positions(kafka) == list(range(1, len(budget) + 1))

    await wait_for(relayed, timeout=60, what="the journal relayed by the new leader")
