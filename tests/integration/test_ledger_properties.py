"""Property-based: random streams of valid and invalid events, in random batches, through the
ledger and the projections on a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.event_store import journal_after
from services.ledger.ingest import ingest_batch
from services.ledger.records import InboundRecord
from services.ledger.store import PostgresLedgerStore
from services.performance import store as performance
from tests.conftest import create_database
from tests.integration.conftest import LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS, migrated_pool
from tests.unit.test_ledger_rules import TOPICS

pytestmark = pytest.mark.integration

LINES = ["L1", "L2", "L3"]
SOURCES = (None, "carryover", "appropriation")  # None: no funding_source (appropriation)
DEPARTMENTS = ["D1", "D2"]
cents = st.integers(min_value=1, max_value=50_000).map(lambda c: f"{Decimal(c) / 100:.2f}")
line = st.sampled_from(LINES)
operation = st.one_of(
    st.tuples(st.just("BudgetAuthorised"), line, cents),
    st.tuples(st.just("BudgetAdjusted"), line, cents, st.booleans()),
    st.tuples(st.just("FundsArrived"), line, cents),
    st.tuples(st.just("FundsTransferred"), line, cents),
    st.tuples(st.just("Disbursed"), line, cents),
    st.tuples(st.just("DisbursementReversed"), st.integers(0, 200)),
    st.tuples(st.just("again"), st.integers(0, 200)),  # an earlier record re-sent
    st.tuples(st.just("conflict"), st.integers(0, 200)),  # an earlier id, other content
    st.tuples(st.just("float"), line),  # a float amount
)


def records(ops: list[tuple[Any, ...]], departments: list[str]) -> list[InboundRecord]:
    sent: list[dict[str, Any]] = []
    out: list[InboundRecord] = []
    for i, (op, department) in enumerate(zip(ops, departments, strict=True)):
        kind, *args = op
        event: dict[str, Any] = {
            "event_id": f"e{i}",
            "event_type": kind,
            "schema_version": 1,
            "occurred_at": f"2017-{1 + i * 12 // len(ops):02d}-15T10:00:00+08:00",
            "department": department,
            "fiscal_year": 2017,
            "source": "property",
        }
        if kind in ("again", "conflict", "DisbursementReversed") and not sent:
            continue
        if kind == "again":
            event = sent[args[0] % len(sent)]
        elif kind == "conflict":
            event = {**sent[args[0] % len(sent)], "source": "other"}
        elif kind == "float":
            event |= {"event_type": "FundsArrived", "data": {"line_id": args[0], "amount": 1.5}}
        elif kind == "DisbursementReversed":
            event["data"] = {"reverses": sent[args[0] % len(sent)]["event_id"], "reason": "r"}
        else:
            data = {"line_id": args[0], "amount": args[1]}
            if kind == "BudgetAuthorised":
                data |= {"title": "t", "category": "basic"}
            if kind == "BudgetAdjusted":
                data |= {"amount": ("" if args[2] else "-") + args[1], "reason": "r"}
            if kind == "FundsTransferred":
                data["to_department"] = "SUB"
            if kind == "Disbursed":
                data["economic_class"] = "302"
            if kind != "FundsTransferred" and SOURCES[i % 3] is not None:
                data["funding_source"] = SOURCES[i % 3]
            event["data"] = data
        sent.append(event)
        out.append(InboundRecord("budget.events", 0, len(out), json.dumps(event).encode()))
    return out


@pytest.fixture(scope="module")
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    schemas = (LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS)
    async with migrated_pool(await create_database(pg_dsn), *schemas) as pool:
        yield pool


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[Any]]:
    return {
        table: [tuple(r) for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]
        for table in (
            "ledger.events",
            "ledger.rejections",
            "ledger.streams",
            "performance.line_daily",
            "performance.line_source_daily",
            "performance.line_spending_daily",
        )
    }


async def project(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        entries = await journal_after(conn, 0, 1_000_000)
    await performance.apply_entries(pool, entries, ZoneInfo("Asia/Shanghai"))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(operation, min_size=1, max_size=80),
    departments=st.data(),
    cuts=st.lists(st.integers(0, 80), max_size=6),
)
async def test_every_record_is_decided_once_and_every_invariant_holds(
    pool: asyncpg.Pool, ops: list[tuple[Any, ...]], departments: st.DataObject, cuts: list[int]
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        # maintenance between examples: the event store's triggers refuse a TRUNCATE unless a
        # superuser turns them off for this transaction
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            "TRUNCATE ledger.events, ledger.rejections, ledger.streams, ledger.pending, "
            "performance.applied_positions, performance.lines, performance.line_daily, "
            "performance.line_source_daily, performance.line_spending_daily RESTART IDENTITY"
        )
    owners = departments.draw(
        st.lists(st.sampled_from(DEPARTMENTS), min_size=len(ops), max_size=len(ops))
    )
    inbound = records(ops, owners)
    bounds = sorted({0, len(inbound), *(c for c in cuts if c < len(inbound))})
    batches = [inbound[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    duplicates = 0
    for batch in batches:
        duplicates += (await ingest_batch(PostgresLedgerStore(pool), batch, TOPICS)).duplicates
    await project(pool)
    accepted = await pool.fetchval("SELECT count(*) FROM ledger.events")
    rejected = await pool.fetchval("SELECT count(*) FROM ledger.rejections")
    assert accepted + rejected + duplicates == len(inbound)

    # every invariant of a budget line holds after each of its events, in ledger order
    totals: dict[str, dict[str, Decimal]] = {}
    by_source: dict[tuple[str, str], dict[str, Decimal]] = {}  # (line, funding source)
    reversed_amounts = {}
    for row in await pool.fetch("SELECT payload, context FROM ledger.events ORDER BY position"):
        event, context = json.loads(row["payload"]), json.loads(row["context"])
        data = event["data"]
        if event["event_type"] == "DisbursementReversed":
            line_id, field, amount = (
                context["reversed"]["line_id"],
                "spent",
                "-" + context["reversed"]["amount"],
            )
            source = context["reversed"]["funding_source"]
            reversed_amounts[data["reverses"]] = amount
        else:
            line_id, amount = data["line_id"], data["amount"]
            source = data.get("funding_source", "appropriation")
            field = {
                "BudgetAuthorised": "adjusted",
                "BudgetAdjusted": "adjusted",
                "FundsArrived": "arrived",
                "FundsTransferred": "transferred",
                "Disbursed": "spent",
            }[event["event_type"]]
        line_totals = totals.setdefault(
            line_id, dict.fromkeys(("adjusted", "arrived", "transferred", "spent"), Decimal(0))
        )
        line_totals[field] += Decimal(amount)
        assert Decimal(0) <= line_totals["arrived"] <= line_totals["adjusted"]
        assert line_totals["transferred"] <= line_totals["arrived"]
        assert Decimal(0) <= line_totals["spent"] <= line_totals["arrived"]
        if field != "transferred":
            of_source = by_source.setdefault(
                (line_id, source), dict.fromkeys(("adjusted", "arrived", "spent"), Decimal(0))
            )
            of_source[field] += Decimal(amount)
            assert of_source["adjusted"] >= 0
            assert Decimal(0) <= of_source["spent"] <= of_source["arrived"]
    assert len(reversed_amounts) == await pool.fetchval(
        "SELECT count(*) FROM ledger.events WHERE event_type = 'DisbursementReversed'"
    )

    # the projections say the same, to the cent
    projected = await pool.fetch(
        """SELECT line_id, sum(adjusted_budget) AS adjusted, sum(arrived) AS arrived,
                  sum(transferred) AS transferred, sum(spent) AS spent
           FROM performance.line_daily GROUP BY line_id"""
    )
    assert {r["line_id"]: {k: r[k] for k in totals.get(r["line_id"], {})} for r in projected} == (
        totals
    )
    projected = await pool.fetch(
        """SELECT line_id, funding_source, sum(adjusted_budget) AS adjusted,
                  sum(arrived) AS arrived, sum(spent) AS spent
           FROM performance.line_source_daily GROUP BY line_id, funding_source"""
    )
    assert {
        (r["line_id"], r["funding_source"]): {k: r[k] for k in ("adjusted", "arrived", "spent")}
        for r in projected
    } == by_source

    # the same records delivered again, in other batches: nothing changes
    before = await snapshot(pool)
    await ingest_batch(PostgresLedgerStore(pool), inbound, TOPICS)
    await project(pool)
    assert await snapshot(pool) == before
