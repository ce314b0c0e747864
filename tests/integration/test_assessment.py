"""The monthly assessment against a brute-force count over the raw case events: by-assignee
figures of a month and of the year so far, scores, ranks and the change against the month
before, with cases dispatched in one month and closed in the next, re-dispatched (改派)
cases, an assignee with nothing due in a month, and a scheme set in mid-year (real
PostgreSQL, the GraphQL schema)."""

from __future__ import annotations

import calendar
import random
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg
import pytest

from schemas.money import rate
from services.performance import store
from tests.fakes_performance import typed_all
from tests.gateway import SCHEMA as schema
from tests.gateway import context
from tests.integration.conftest import PERFORMANCE_MIGRATIONS, migrated_pool
from tests.integration.test_as_of import TZ, brute_force_cases, journal, random_cases

pytestmark = pytest.mark.integration

FLOWS = ("reported", "accepted", "filed", "dispatched", "disposed", "closed", "closedOnTime")
AGES = ("upTo3", "from4To10", "from11To30", "over30")
QUERY = f"""
query($month: Int, $asOf: Date) {{
  assessment(department: "D", fiscalYear: 2017, month: $month, asOf: $asOf) {{
    period asOf previousPeriod
    scheme {{ effectiveMonth indicators {{ metric weight }} }}
    total {{ due closed open }}
    assignees {{
      assignee score rank previousScore previousRank scoreChange rankChange
      indicators {{ metric rate points }}
      cases {{ {" ".join(FLOWS)} due dueClosed open overdue onTimeRate closureRateDue
               overdueByAge {{ {" ".join(AGES)} }} }}
    }}
  }}
}}
"""
# set on 20 June, scoring from July: on-time closure counts more
SCHEME_SET = datetime(2017, 6, 20, 9, tzinfo=TZ)
SCHEME = [("on_time_rate", Decimal(70)), ("closure_rate_due", Decimal(30))]
DEFAULT = [("on_time_rate", Decimal(50)), ("closure_rate_due", Decimal(50))]


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ)


def holder(case: dict[str, Any], day: date) -> str | None:
    held = [assignee for at, assignee in case.get("dispatches", []) if at < end_of(day)]
    return held[-1] if held else None


def brute_force_period(
    cases: list[dict[str, Any]], assignee: str, start: date, day: date
) -> dict[str, Any]:
    """What the bulletin must show for an assignee over [start, day]."""
    mine = [c for c in cases if holder(c, day) == assignee]
    before = [c for c in cases if holder(c, start - timedelta(days=1)) == assignee]
    now, then = brute_force_cases(mine, day), brute_force_cases(before, start - timedelta(days=1))
    got: dict[str, Any] = {k: now[k] - then[k] for k in FLOWS}

    def local(at: datetime) -> date:
        return at.astimezone(TZ).date()

    due = [
        c
        for c in mine
        if "CaseFiled" in c
        and c["CaseFiled"] < end_of(day)
        and start
        <= min(
            local(c["deadline"]),
            local(c["CaseClosed"]) if c.get("CaseClosed", end_of(day)) < end_of(day) else date.max,
        )
        <= day
    ]
    got["due"] = len(due)
    got["dueClosed"] = sum(c.get("CaseClosed", end_of(day)) < end_of(day) for c in due)
    got["open"], got["overdue"] = now["open"], now["overdue"]
    got["onTimeRate"] = _rate(got["closedOnTime"], got["due"])
    got["closureRateDue"] = _rate(got["dueClosed"], got["due"])
    ages = [
        (day - local(c["deadline"])).days
        for c in mine
        if c.get("CaseAccepted", end_of(day)) < end_of(day)
        and c.get("CaseClosed", end_of(day)) >= end_of(day)
        and "deadline" in c
        and c["CaseFiled"] < end_of(day)
        and local(c["deadline"]) <= day
    ]
    got["overdueByAge"] = {
        "upTo3": sum(a <= 3 for a in ages),
        "from4To10": sum(4 <= a <= 10 for a in ages),
        "from11To30": sum(11 <= a <= 30 for a in ages),
        "over30": sum(a > 30 for a in ages),
    }
    return got


def _rate(numerator: int, denominator: int) -> str | None:
    value = rate(numerator, denominator)
    return None if value is None else str(value)


def brute_force_scores(
    figures: dict[str, dict[str, Any]], scheme: list[tuple[str, Decimal]]
) -> dict[str, tuple[str | None, int | None]]:
    """(score, rank) per assignee: unassessed (None, None) without a rate."""
    field = {"on_time_rate": "onTimeRate", "closure_rate_due": "closureRateDue"}
    scores: dict[str, Decimal | None] = {}
    for assignee, got in figures.items():
        rates = [got[field[metric]] for metric, _ in scheme]
        if None in rates:
            scores[assignee] = None
            continue
        scores[assignee] = sum(
            (
                (weight * min(Decimal(r), Decimal(1))).quantize(Decimal("0.01"), ROUND_HALF_UP)
                for (_, weight), r in zip(scheme, rates, strict=True)
            ),
            Decimal("0.00"),
        )
    assessed = [s for s in scores.values() if s is not None]
    return {
        a: (None, None) if s is None else (str(s), 1 + sum(other > s for other in assessed))
        for a, s in scores.items()
    }


def quiet_cases() -> list[dict[str, Any]]:
    """An assignee sent cases in March only, due and closed in March: nothing is due to it
    in April or later, so it is unassessed there."""
    cases = []
    for i in range(5):
        t = datetime(2017, 3, 2 + i, 9, tzinfo=TZ)
        cases.append({
            "case_id": f"Q{i}", "channel": "video", "advance": False, "CaseReported": t,
            "CaseAccepted": t + timedelta(minutes=5), "CaseFiled": t + timedelta(hours=1),
            "deadline": t + timedelta(days=3), "CaseDispatched": t + timedelta(hours=2),
            "dispatches": [(t + timedelta(hours=2), "QUIET")],
            "CaseClosed": t + timedelta(days=2 + i % 3),
        })  # fmt: skip
    return cases


def scheme_entry() -> dict[str, Any]:
    data = {
        "effective_month": 7,
        "indicators": [{"metric": m, "weight": str(w)} for m, w in SCHEME],
    }
    event = {"event_type": "AssessmentSchemeSet", "department": "D", "fiscal_year": 2017,
             "occurred_at": SCHEME_SET.isoformat(), "data": data}  # fmt: skip
    return {"event": event, "context": {}}


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(database, PERFORMANCE_MIGRATIONS) as pool:
        yield pool


@pytest.fixture
async def cases(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    cases = random_cases(random.Random(6), 700) + quiet_cases()
    entries = journal(cases, []) + [scheme_entry()]
    entries.sort(key=lambda e: e["event"]["occurred_at"])
    for position, e in enumerate(entries, start=1):
        e["position"] = position
    for start in range(0, len(entries), 500):
        await store.apply_entries(pool, typed_all(entries[start : start + 500]), TZ)
    return cases


async def assessment(pool: asyncpg.Pool, month: int | None, as_of: date | None = None) -> Any:
    variables = {"month": month, "asOf": None if as_of is None else as_of.isoformat()}
    result = await schema.execute(QUERY, variable_values=variables, context_value=context(pool))
    assert result.errors is None, result.errors
    return result.data["assessment"]  # type: ignore[index]


def expected(
    cases: list[dict[str, Any]], assignees: list[str], start: date, day: date, month: int
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str | None, int | None]]]:
    figures = {a: brute_force_period(cases, a, start, day) for a in assignees}
    scheme = SCHEME if month >= 7 and day >= SCHEME_SET.date() else DEFAULT
    return figures, brute_force_scores(figures, scheme)


def month_end(month: int) -> date:
    return date(2017, month, calendar.monthrange(2017, month)[1])


async def test_monthly_assessment_matches_a_brute_force_count(
    pool: asyncpg.Pool, cases: list[dict[str, Any]]
) -> None:
    previous: dict[str, tuple[str | None, int | None]] = {}
    for month in range(1, 13):
        got = await assessment(pool, month)
        start, day = date(2017, month, 1), month_end(month)
        assert (got["period"], got["asOf"]) == (f"2017-{month:02d}", day.isoformat())
        rows = {row["assignee"]: row for row in got["assignees"]}
        # every assignee that has held a case by the month's end is listed
        assert set(rows) == {holder(c, day) for c in cases} - {None}
        figures, scores = expected(cases, list(rows), start, day, month)
        for assignee, row in rows.items():
            mine = {k: row["cases"][k] for k in figures[assignee]}
            assert mine == figures[assignee], (month, assignee)
            assert (row["score"], row["rank"]) == scores[assignee], (month, assignee)
            before = previous.get(assignee, (None, None))
            assert (row["previousScore"], row["previousRank"]) == before, (month, assignee)
            if row["score"] is not None and before[0] is not None:
                assert Decimal(row["scoreChange"]) == Decimal(row["score"]) - Decimal(before[0])
                assert row["rankChange"] == before[1] - row["rank"]
        # ranked first, then the unassessed; the totals are the assignees' sum
        ranks = [row["rank"] for row in got["assignees"]]
        assessed = [r for r in ranks if r is not None]
        assert ranks == assessed + [None] * (len(ranks) - len(assessed))
        assert assessed == sorted(assessed)
        assert got["total"]["due"] == sum(f["due"] for f in figures.values())
        previous = scores

    # a month with nothing due to QUIET: listed, its rates null (not 0), unassessed
    may = {row["assignee"]: row for row in (await assessment(pool, 5))["assignees"]}
    assert may["QUIET"]["cases"]["due"] == 0
    assert may["QUIET"]["cases"]["onTimeRate"] is None
    assert (may["QUIET"]["score"], may["QUIET"]["rank"]) == (None, None)
    assert [i["points"] for i in may["QUIET"]["indicators"]] == [None, None]
    march = {row["assignee"]: row for row in (await assessment(pool, 3))["assignees"]}
    assert march["QUIET"]["score"] is not None


async def test_as_of_inside_a_month_and_the_year_so_far(
    pool: asyncpg.Pool, cases: list[dict[str, Any]]
) -> None:
    for month, as_of in ((4, date(2017, 4, 15)), (None, date(2017, 9, 1)), (None, None)):
        got = await assessment(pool, month, as_of)
        day = as_of or date(2017, 12, 31)
        start = date(2017, month or 1, 1)
        assert got["asOf"] == day.isoformat()
        rows = {row["assignee"]: row for row in got["assignees"]}
        figures, scores = expected(cases, list(rows), start, day, month or day.month)
        for assignee, row in rows.items():
            assert {k: row["cases"][k] for k in figures[assignee]} == figures[assignee]
            assert (row["score"], row["rank"]) == scores[assignee]
    # a past month's bulletin does not change when asked later
    assert await assessment(pool, 2, date(2017, 11, 30)) == await assessment(pool, 2)


async def test_a_scheme_set_in_mid_year_scores_from_its_month_on(
    pool: asyncpg.Pool, cases: list[dict[str, Any]]
) -> None:
    june, july = await assessment(pool, 6), await assessment(pool, 7)
    assert june["scheme"]["effectiveMonth"] is None  # the default: 50 / 50
    assert [i["weight"] for i in june["scheme"]["indicators"]] == ["50", "50"]
    assert july["scheme"]["effectiveMonth"] == 7
    assert [(i["metric"], i["weight"]) for i in july["scheme"]["indicators"]] == [
        (m, str(w)) for m, w in SCHEME
    ]
    for row in july["assignees"]:
        if row["score"] is not None:
            on_time, closure = (Decimal(i["rate"]) for i in row["indicators"])
            assert Decimal(row["indicators"][0]["points"]) == (
                70 * min(on_time, Decimal(1))
            ).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert Decimal(row["score"]) == sum(Decimal(i["points"]) for i in row["indicators"])
    # the months before keep their scores: the same as with no scheme at all
    for month in range(1, 7):
        got = await assessment(pool, month)
        rows = {row["assignee"]: row for row in got["assignees"]}
        figures, scores = expected(cases, list(rows), date(2017, month, 1), month_end(month), 1)
        assert {a: (r["score"], r["rank"]) for a, r in rows.items()} == scores


async def test_bad_arguments_name_the_rule(pool: asyncpg.Pool, cases: list[Any]) -> None:
    for arguments, message in (
        ("month: 13", "month 13 is not a month"),
        ('month: 5, asOf: "2017-04-30"', "before the period 2017-05 begins"),
        ('month: 5, asOf: "2018-05-30"', "outside fiscal year 2017"),
    ):
        query = f'{{ assessment(department: "D", fiscalYear: 2017, {arguments}) {{ period }} }}'
        result = await schema.execute(query, context_value=context(pool))
        assert result.errors and message in result.errors[0].message, arguments
    result = await schema.execute(
        '{ assessment(department: "NOPE", fiscalYear: 2017) { period } }',
        context_value=context(pool),
    )
    assert result.errors and "unknown department 'NOPE'" in result.errors[0].message
