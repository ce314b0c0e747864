"""As of any date: the evaluation answered from the projections equals a brute-force count
over the raw events, at several dates of the year (real PostgreSQL, the GraphQL schema)."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from prometheus_client import REGISTRY

from schemas.money import format_money, rate
from services.common.db import _init_connection as db_init
from services.common.db import migrate
from services.common.projections import DEADLINE_COUNTS, digest
from services.performance import store
from services.reporting.cache import FiguresCache
from services.reporting.loaders import Context
from tests.fakes_performance import typed_all
from tests.gateway import AUDITOR, context
from tests.gateway import SCHEMA as schema
from tests.integration.conftest import PERFORMANCE_MIGRATIONS, migrated_pool

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Shanghai")
ASSIGNEES = ["STREET-1", "STREET-2", "STREET-3", "WATER-BUREAU"]
DATES = [
    date(2017, 1, 31),
    date(2017, 4, 15),
    date(2017, 6, 30),
    date(2017, 9, 1),
    date(2017, 12, 31),
]
COUNTS = "reported accepted filed dispatched disposed closed closedOnTime due open overdue"
RATES = "filingRate dispatchRate disposalRate closureRate closureRateDue onTimeRate"
QUERY = f"""
query($asOf: Date, $year: Int! = 2017) {{
  departmentEvaluation(department: "D", fiscalYear: $year, asOf: $asOf) {{
    budget {{ adjustedBudget arrived spent arrivalRate executionRate }}
    cases {{ {COUNTS} advanceDisposals {RATES} byChannel {{ channel {COUNTS} {RATES} }}
             byAssignee {{ assignee {COUNTS} {RATES} advanceDisposals }} }}
  }}
}}
"""


def random_cases(rnd: random.Random, n: int, year: int = 2017) -> list[dict[str, Any]]:
    """Stage times of n cases of a year: some filed with deadlines met or missed, some
    skipping stages, some never closed."""
    start = datetime(year, 1, 1, tzinfo=TZ)
    year_end = datetime(year + 1, 1, 1, tzinfo=TZ) - timedelta(minutes=1)
    cases = []
    for i in range(n):
        t = start + timedelta(minutes=rnd.randrange(365 * 24 * 60 - 600))
        case: dict[str, Any] = {
            "case_id": f"C{i}",
            "channel": rnd.choice(["video", "public_hotline", "supervisor_patrol"]),
            "advance": rnd.random() < 0.05,
            "CaseReported": t,
        }
        if rnd.random() < 0.9:
            t = case["CaseAccepted"] = t + timedelta(minutes=rnd.randint(1, 60))
            if rnd.random() < 0.7:
                t = case["CaseFiled"] = t + timedelta(hours=rnd.randint(1, 30))
                case["deadline"] = t + timedelta(days=rnd.randint(1, 10), hours=rnd.randint(0, 23))
                if rnd.random() < 0.9:
                    t = case["CaseDispatched"] = t + timedelta(hours=rnd.randint(1, 100))
                    case["dispatches"] = [(t, rnd.choice(ASSIGNEES))]
                    while rnd.random() < 0.3 and t < year_end - timedelta(days=30):  # 改派
                        t += timedelta(hours=rnd.randint(1, 200))
                        case["dispatches"].append((t, rnd.choice(ASSIGNEES)))
                    if rnd.random() < 0.9:
                        t = case["CaseDisposed"] = t + timedelta(hours=rnd.randint(1, 100))
        if rnd.random() < 0.8:
            case["CaseClosed"] = t + timedelta(hours=rnd.randint(0, 300))
        for stage in ("CaseDispatched", "CaseDisposed", "CaseClosed"):
            if stage in case and case[stage] > year_end:
                case[stage] = year_end
        if "dispatches" in case:  # re-dispatches come early enough never to be clipped
            case["dispatches"][0] = (case["CaseDispatched"], case["dispatches"][0][1])
        cases.append(case)
    return cases


def journal(
    cases: list[dict[str, Any]], money: list[tuple[str, datetime, str]], year: int = 2017
) -> list[dict]:
    def entry(event_type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        event = {
            "event_type": event_type,
            "department": "D",
            "fiscal_year": year,
            "occurred_at": at.isoformat(),
            "data": data,
        }
        return {"event": event, "context": {}}

    entries = [
        entry("BudgetAuthorised", datetime(year, 1, 1, tzinfo=TZ), {
            "line_id": "L", "title": "t", "category": "project", "amount": "100000.00"})
    ]  # fmt: skip
    for event_type, at, amount in money:
        data: dict[str, Any] = {"line_id": "L", "amount": amount}
        if event_type == "Disbursed":
            data["economic_class"] = "302"
        entries.append(entry(event_type, at, data))
    for case in cases:
        report = {"case_id": case["case_id"], "channel": case["channel"], "category": "x",
                  "kind": "event", "advance_disposal": case["advance"]}  # fmt: skip
        entries.append(entry("CaseReported", case["CaseReported"], report))
        for stage in ("CaseAccepted", "CaseFiled", "CaseDispatched", "CaseDisposed", "CaseClosed"):
            if stage == "CaseDispatched":  # in stage order: equal times keep it (sort is stable)
                for at, assignee in case.get("dispatches", []):
                    data = {"case_id": case["case_id"], "assignee": assignee}
                    entries.append(entry("CaseDispatched", at, data))
            elif stage in case:
                data = {"case_id": case["case_id"]}
                if stage == "CaseFiled":
                    data["deadline_at"] = case["deadline"].isoformat()
                entries.append(entry(stage, case[stage], data))
    entries.sort(key=lambda e: e["event"]["occurred_at"])
    for position, e in enumerate(entries, start=1):
        e["position"] = position
    return entries


def brute_force_cases(cases: list[dict[str, Any]], day: date) -> dict[str, Any]:
    cutoff = datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ)

    def by(case: dict[str, Any], stage: str) -> bool:
        return stage in case and case[stage] < cutoff

    counts = {
        "reported": sum(by(c, "CaseReported") for c in cases),
        "accepted": sum(by(c, "CaseAccepted") for c in cases),
        "filed": sum(by(c, "CaseFiled") for c in cases),
        "dispatched": sum(by(c, "CaseDispatched") for c in cases),
        "disposed": sum(by(c, "CaseDisposed") for c in cases),
        "closed": sum(by(c, "CaseClosed") for c in cases),
        "closedOnTime": sum(
            by(c, "CaseClosed") and "deadline" in c and c["CaseClosed"] <= c["deadline"]
            for c in cases
        ),
        "due": sum(
            by(c, "CaseFiled") and (c["deadline"] < cutoff or by(c, "CaseClosed")) for c in cases
        ),
        "open": sum(by(c, "CaseAccepted") and not by(c, "CaseClosed") for c in cases),
        "overdue": sum(
            by(c, "CaseAccepted") and not by(c, "CaseClosed") and "deadline" in c
            and c["deadline"] < cutoff
            for c in cases
        ),
    }  # fmt: skip
    closed_filed = sum(by(c, "CaseFiled") and by(c, "CaseClosed") for c in cases)

    def r(numerator: int, denominator: int) -> str | None:
        value = rate(numerator, denominator)
        return None if value is None else str(value)

    return {
        **counts,
        "filingRate": r(counts["filed"], counts["accepted"]),
        "dispatchRate": r(counts["dispatched"], counts["filed"]),
        "disposalRate": r(counts["disposed"], counts["dispatched"]),
        "closureRate": r(counts["closed"], counts["accepted"]),
        "closureRateDue": r(closed_filed, counts["due"]),
        "onTimeRate": r(counts["closedOnTime"], counts["due"]),
    }


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(database, PERFORMANCE_MIGRATIONS) as pool:
        yield pool


async def test_as_of_any_date_matches_a_brute_force_count(pool: asyncpg.Pool) -> None:
    rnd = random.Random(31)
    cases = random_cases(rnd, 600)
    money = []
    for _ in range(60):
        at = datetime(2017, 1, 4, tzinfo=TZ) + timedelta(hours=rnd.randrange(360 * 24))
        money.append(("FundsArrived", at, f"{rnd.randint(1, 900)}.{rnd.randint(0, 99):02d}"))
        money.append(("Disbursed", at + timedelta(hours=1), f"{rnd.randint(1, 400)}.00"))
    entries = journal(cases, money)
    for start in range(0, len(entries), 700):  # in batches, as the service applies them
        await store.apply_entries(pool, typed_all(entries[start : start + 700]), TZ)

    for day in DATES:
        result = await schema.execute(
            QUERY, variable_values={"asOf": day.isoformat()}, context_value=context(pool)
        )
        assert result.errors is None, result.errors
        evaluation = result.data["departmentEvaluation"]  # type: ignore[index]
        got = evaluation["cases"]
        expected = brute_force_cases(cases, day)
        assert {k: got[k] for k in expected} == expected, day
        assert got["advanceDisposals"] == sum(
            c["advance"] and c["CaseReported"].date() <= day for c in cases
        )
        for channel in got["byChannel"]:
            mine = [c for c in cases if c["channel"] == channel["channel"]]
            assert {k: channel[k] for k in expected} == brute_force_cases(mine, day), day
        cutoff = datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ)
        holding = {
            c["case_id"]: [a for at, a in c.get("dispatches", []) if at < cutoff][-1:]
            for c in cases
        }  # each case's assignee as of the day (after any re-dispatch), if dispatched
        shown = {a["assignee"]: a for a in got["byAssignee"]}
        assert {a for held in holding.values() for a in held} <= set(shown)
        for assignee, counts in shown.items():
            mine = [c for c in cases if holding[c["case_id"]] == [assignee]]
            assert {k: counts[k] for k in expected} == brute_force_cases(mine, day), assignee
            assert counts["advanceDisposals"] == sum(c["advance"] for c in mine)

        cutoff = datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ)
        arrived = sum(Decimal(a) for t, at, a in money if t == "FundsArrived" and at < cutoff)
        spent = sum(Decimal(a) for t, at, a in money if t == "Disbursed" and at < cutoff)
        budget = evaluation["budget"]
        assert (budget["arrived"], budget["spent"]) == (format_money(arrived), format_money(spent))
        assert budget["arrivalRate"] == str(rate(arrived, Decimal("100000.00")))


async def test_an_upgraded_database_gets_the_deadline_deltas_the_projector_writes(
    pool: asyncpg.Pool,
) -> None:
    """Migration 0003 derives, from case_deadlines, the deltas that case_daily holds for the
    deadline figures: a database projected before it reads the same figures as a replay."""
    entries = journal(random_cases(random.Random(5), 500), [])
    for start in range(0, len(entries), 700):
        await store.apply_entries(pool, typed_all(entries[start : start + 700]), TZ)
    upgrade = (PERFORMANCE_MIGRATIONS / "0003.performance-case-deadline-deltas.sql").read_text()
    async with pool.acquire() as conn:
        projected = await digest(conn, 2017)
        zeroed = ", ".join(f"{count} = 0" for count in DEADLINE_COUNTS)
        await conn.execute(f"UPDATE performance.case_daily SET {zeroed}")  # as before 0003
        assert await digest(conn, 2017) != projected
        await conn.execute(upgrade)
        assert await digest(conn, 2017) == projected


async def test_answers_are_kept_until_the_projections_change(pool: asyncpg.Pool) -> None:
    """The gateway's cache (shared by requests) answers again what it answered, and nothing
    it answered before the projections were written again."""
    cases = random_cases(random.Random(11), 400)
    entries = journal(cases, [])
    cache = FiguresCache()

    async def evaluated() -> Any:
        asked = Context(pool, AUDITOR, date(2026, 12, 2), TZ, cache)
        result = await schema.execute(QUERY, {"asOf": "2017-12-31"}, context_value=asked)
        assert result.errors is None, result.errors
        return result.data["departmentEvaluation"]["cases"]  # type: ignore[index]

    def hits() -> float:
        return REGISTRY.get_sample_value("gateway_figures_cache_total", {"outcome": "hit"}) or 0

    await store.apply_entries(pool, typed_all(entries[:900]), TZ)
    first, hit = await evaluated(), hits()
    assert await evaluated() == first and hits() > hit  # from the cache
    await store.apply_entries(pool, typed_all(entries[900:]), TZ)
    hit = hits()
    now = await evaluated()
    assert hits() == hit and now != first  # the projections moved on: asked again
    expected = brute_force_cases(cases, date(2017, 12, 31))
    assert {k: now[k] for k in expected} == expected


@pytest.mark.parametrize("years_ago", [1, 0])
async def test_without_as_of_a_year_is_counted_as_of_today(
    pool: asyncpg.Pool, years_ago: int
) -> None:
    """No asOf means now: a past year's deadlines have all passed (its backlog is overdue),
    the current year's are partly still ahead, and its later events are not counted yet."""
    today = datetime.now(TZ).date()
    year = today.year - years_ago
    cases = random_cases(random.Random(year), 300, year)
    await store.apply_entries(pool, typed_all(journal(cases, [], year)), TZ)
    result = await schema.execute(QUERY, {"year": year}, context_value=context(pool))
    assert result.errors is None, result.errors
    got = result.data["departmentEvaluation"]["cases"]  # type: ignore[index]
    expected = brute_force_cases(cases, today)
    assert {k: got[k] for k in expected} == expected
    if years_ago:
        open_filed = [c for c in cases if "CaseFiled" in c and "CaseClosed" not in c]
        assert got["overdue"] == len(open_filed) > 0  # a past year's deadlines have all passed
    else:
        assert got["reported"] < len(cases)  # the cases of the year's days to come are not


async def apply_units(pool: asyncpg.Pool) -> None:
    """A bureau with units at two depths, an unrelated department, a line each."""

    def entry(position: int, event_type: str, department: str, **data: Any) -> dict[str, Any]:
        event = {"event_type": event_type, "department": department, "fiscal_year": 2017,
                 "occurred_at": "2017-03-01T10:00:00+08:00", "data": data}  # fmt: skip
        return {"position": position, "event": event, "context": {}}

    def line(department: str, line_id: str, amount: str, **extra: str) -> list[dict[str, Any]]:
        return [
            entry(0, "BudgetAuthorised", department, line_id=line_id, title=line_id,
                  category="project", amount=amount, **extra),
            entry(0, "FundsArrived", department, line_id=line_id, amount=amount),
        ]  # fmt: skip

    entries = [
        entry(0, "DepartmentRegistered", "BUREAU", name="局"),
        entry(0, "DepartmentRegistered", "UNIT-A", name="A", parent="BUREAU"),
        entry(0, "DepartmentRegistered", "UNIT-B", name="B", parent="BUREAU"),
        entry(0, "DepartmentRegistered", "TEAM-B1", name="B1", parent="UNIT-B"),
        entry(0, "DepartmentRegistered", "OTHER", name="O"),
        *line("BUREAU", "L-BUREAU", "1000.00"),
        *line("UNIT-A", "L-A", "200.00", sangong="vehicles"),  # a "三公" line
        entry(0, "Disbursed", "UNIT-A", line_id="L-A", amount="50.00", economic_class="302"),
        *line("TEAM-B1", "L-B1", "30.00"),
        *line("OTHER", "L-O", "4.00"),
        entry(0, "Disbursed", "BUREAU", line_id="L-BUREAU", amount="600.00",
              economic_class="301", spending_department="UNIT-A"),
        entry(0, "Disbursed", "BUREAU", line_id="L-BUREAU", amount="200.00",
              economic_class="302"),
    ]  # fmt: skip
    for position, e in enumerate(entries, start=1):
        e["position"] = position
    await store.apply_entries(pool, typed_all(entries), TZ)


async def test_a_department_with_its_subunits(pool: asyncpg.Pool) -> None:
    await apply_units(pool)
    query = """query($sub: Boolean!) {
      departmentEvaluation(department: "BUREAU", fiscalYear: 2017, includeSubunits: $sub) {
        subunits budget { adjustedBudget spent sangongBudget sangongSpent sangongControlRate
                          bySpendingDepartment { department spent share } }
        lines { lineId }
      } }"""
    results = {}
    for sub in (False, True):
        result = await schema.execute(query, {"sub": sub}, context_value=context(pool))
        assert result.errors is None, result.errors
        results[sub] = result.data["departmentEvaluation"]  # type: ignore[index]
    alone, with_units = results[False], results[True]
    assert (alone["subunits"], alone["budget"]["adjustedBudget"]) == ([], "1000.00")
    assert [line["lineId"] for line in alone["lines"]] == ["L-BUREAU"]
    assert with_units["subunits"] == ["TEAM-B1", "UNIT-A", "UNIT-B"]  # at any depth
    assert with_units["budget"]["adjustedBudget"] == "1230.00"  # not OTHER's 4.00
    sangong = ("sangongBudget", "sangongSpent", "sangongControlRate")
    assert [with_units["budget"][k] for k in sangong] == ["200.00", "50.00", "0.2500"]
    assert [alone["budget"][k] for k in sangong] == ["0.00", "0.00", None]
    assert sorted(line["lineId"] for line in with_units["lines"]) == ["L-A", "L-B1", "L-BUREAU"]
    assert alone["budget"]["bySpendingDepartment"] == [
        {"department": "BUREAU", "spent": "200.00", "share": "0.2500"},
        {"department": "UNIT-A", "spent": "600.00", "share": "0.7500"},
    ]


async def test_many_evaluations_cost_the_same_queries_as_one(database: str) -> None:
    executed: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        await db_init(conn)
        conn.add_query_logger(lambda record: executed.append(record.query))

    pool = await asyncpg.create_pool(
        database, init=init, server_settings={"search_path": "performance"}
    )
    assert pool is not None
    try:
        await migrate(database, PERFORMANCE_MIGRATIONS)
        await apply_units(pool)

        projections = re.compile(
            r"\b(lines|line_daily|line_spending_daily|case_daily|"
            r"case_deadlines|targets|outputs_daily|departments)\b"
        )

        def evaluation_queries() -> int:  # not asyncpg's type lookups nor the pool's resets
            return sum(bool(projections.search(query)) for query in executed)

        async def run(fields: list[str]) -> tuple[int, Any]:
            executed.clear()
            query = "{ " + " ".join(f"e{i}: {f}" for i, f in enumerate(fields)) + " }"
            result = await schema.execute(query, context_value=context(pool))
            return evaluation_queries(), result

        line = 'lineEvaluation(lineId: "{}") {{ adjustedBudget score }}'
        await run([line.format("L-A")])  # asyncpg looks up the array types once
        one, _ = await run([line.format("L-A")])
        many, result = await run([line.format(x) for x in ("L-A", "L-B1", "L-O", "NOPE")])
        assert one == many == 5  # lines, sums, spending, outputs, targets
        assert [e.message for e in result.errors] == ["unknown budget line 'NOPE'"]
        assert result.data["e2"] == {"adjustedBudget": "4.00", "score": None}

        async def one_and_many(fields: str) -> tuple[int, int, Any]:
            """Queries of one department's evaluation, and of five (one unknown)."""
            department = (
                'departmentEvaluation(department: "{}", fiscalYear: 2017, includeSubunits: {}) '
                "{{ " + fields.replace("{", "{{").replace("}", "}}") + " }}"
            )
            await run([department.format("BUREAU", "true")])
            one, _ = await run([department.format("BUREAU", "true")])
            many, result = await run(
                [department.format(code, sub) for code, sub in
                 (("BUREAU", "true"), ("BUREAU", "false"), ("UNIT-B", "true"),
                  ("OTHER", "false"), ("NOPE", "false"))]
            )  # fmt: skip
            return one, many, result

        one, many, result = await one_and_many("budget { adjustedBudget } cases { accepted } score")
        # known, subunits, data, budget (2), cases (1: the deadline figures are daily), outputs,
        # targets
        assert one == many == 8
        assert [e.message for e in result.errors] == ["unknown department 'NOPE'"]
        budgets = [result.data[f"e{i}"]["budget"]["adjustedBudget"] for i in range(4)]
        assert budgets == ["1230.00", "1000.00", "30.00", "4.00"]

        # with their months and lines: one query for the months of all the departments, one
        # for all their line lists, and one batch of line evaluations for all those lines
        one, many, result = await one_and_many(
            "budget { adjustedBudget } monthly { month spentInMonth } "
            "lines { lineId adjustedBudget }"
        )
        # the 8 above, months, line ids, the lines' 5
        assert one == many == 15
        assert [e.message for e in result.errors] == ["unknown department 'NOPE'"]
        lines = [[x["lineId"] for x in result.data[f"e{i}"]["lines"]] for i in range(4)]
        assert lines == [["L-A", "L-B1", "L-BUREAU"], ["L-BUREAU"], ["L-B1"], ["L-O"]]
        march = [result.data[f"e{i}"]["monthly"][2] for i in range(4)]
        assert [m["spentInMonth"] for m in march] == ["850.00", "800.00", "0.00", "0.00"]
        assert {len(result.data[f"e{i}"]["monthly"]) for i in range(4)} == {12}
    finally:
        await pool.close()


async def test_year_over_year(pool: asyncpg.Pool) -> None:
    """A "三公" line and cases in 2016 and 2017: each year's figures as of 30 June, and the
    change, equal those of an evaluation of each year alone."""

    def entry(year: int, month: int, event_type: str, **data: Any) -> dict[str, Any]:
        at = datetime(year, month, 10, 10, tzinfo=TZ).isoformat()
        event = {"event_type": event_type, "department": "Y", "fiscal_year": year,
                 "occurred_at": at, "data": data}  # fmt: skip
        return {"event": event, "context": {}}

    entries = []
    for year, spent, closed in ((2016, ("2100.00", "2100.00"), 9), (2017, ("1850.00", "0"), 18)):
        line = f"S{year}"
        entries += [
            entry(year, 1, "BudgetAuthorised", line_id=line, title="公务用车", category="basic",
                  amount="5000.00", sangong="vehicles"),
            entry(year, 1, "FundsArrived", line_id=line, amount="5000.00"),
        ]  # fmt: skip
        for month, amount in zip((3, 9), spent, strict=True):  # the second after 30 June
            if amount != "0":
                entries.append(entry(year, month, "Disbursed", line_id=line, amount=amount,
                                     economic_class="302"))  # fmt: skip
        for i in range(20):
            report = {"case_id": f"C{year}-{i}", "channel": "video", "category": "x",
                      "kind": "event"}  # fmt: skip
            entries.append(entry(year, 2, "CaseReported", **report))
            entries.append(entry(year, 2, "CaseAccepted", case_id=report["case_id"]))
            if i < closed:
                entries.append(entry(year, 4, "CaseClosed", case_id=report["case_id"]))
    for position, e in enumerate(entries, start=1):
        e["position"] = position
    await store.apply_entries(pool, typed_all(entries), TZ)

    fields = "asOf budget { sangongSpent } cases { accepted closureRate } score"
    query = f"""query($year: Int!, $asOf: Date) {{
      departmentEvaluation(department: "Y", fiscalYear: $year, asOf: $asOf) {{
        {fields} previousYear {{ {fields} }}
        yearOverYear {{ metric current previous change changeRate }} }} }}"""

    async def evaluate(year: int, as_of: str) -> Any:
        variables = {"year": year, "asOf": as_of}
        result = await schema.execute(query, variables, context_value=context(pool))
        assert result.errors is None, result.errors
        return result.data["departmentEvaluation"]  # type: ignore[index]

    now, before = await evaluate(2017, "2017-06-30"), await evaluate(2016, "2016-06-30")
    assert now["previousYear"] == {k: before[k] for k in now["previousYear"]}
    assert before["budget"]["sangongSpent"] == "2100.00"  # not the September payment
    changes = {c["metric"]: c for c in now["yearOverYear"]}
    assert changes["sangong_spent"] == {"metric": "sangong_spent", "current": "1850.00",
                                        "previous": "2100.00", "change": "-250.00",
                                        "changeRate": "-0.1190"}  # fmt: skip
    assert changes["closure_rate"] == {"metric": "closure_rate", "current": "0.9000",
                                       "previous": "0.4500", "change": "0.4500",
                                       "changeRate": None}  # fmt: skip
    assert changes["accepted"]["change"] == "0" and changes["score"]["current"] is None
    assert before["previousYear"] is None and before["yearOverYear"] == []
