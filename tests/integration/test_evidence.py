"""The events behind every figure (`evidence`), on the real stack: each metric's events as of
several days, paged to the end, against a brute-force selection over the published events,
and their sum or count against the evaluation's figure."""

from __future__ import annotations

import csv
import html
import io
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from demo import guandu2017 as demo
from demo.base import envelope, moment
from services.reporting.evidence import CASES, MONEY
from services.reporting.names import camel
from services.reporting.page import wan
from tests.gateway import Gateway, token
from tests.helpers import Stack, table_rows
from tests.integration.test_replay import cases

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Shanghai")
GRID, YEAR = demo.GRID, 2017
DAYS = (date(2017, 1, 1), date(2017, 1, 2), date(2017, 5, 10), date(2017, 12, 31))
PAGE = """query($department: String!, $metric: String!, $asOf: Date, $after: String,
                $lineId: String, $first: Int = 97) {
  evidence(department: $department, fiscalYear: 2017, metric: $metric, asOf: $asOf,
           after: $after, lineId: $lineId, first: $first) {
    metric asOf totalCount sum
    edges { cursor node { eventId eventType department occurredAt recordedAt position amount
                          source data } }
    pageInfo { hasNextPage endCursor }
  }
}"""
FIGURES = """query($department: String!, $asOf: Date) {
  departmentEvaluation(department: $department, fiscalYear: 2017, asOf: $asOf) {
    budget { initialBudget adjustedBudget arrived transferred spent balance sangongBudget
             sangongSpent }
    procurement { planned contracted }
    cases { reported accepted filed dispatched disposed closed closedOnTime due dueClosed open
            overdue advanceDisposals }
  }
}"""


def extras() -> list[tuple[str, dict[str, Any]]]:
    """What the demo year lacks: a reversal, a procurement with its contract."""

    def ev(eid: str, etype: str, at: datetime, **data: Any) -> dict[str, Any]:
        return envelope(f"evidence-{eid}", etype, at, GRID, "finance", data)

    line = demo.BASIC_LINE
    return [
        ("budget", ev("reversal", "DisbursementReversed", moment(5, 10),
                      reverses=f"gd2017-{line}-pay-03-302", reason="退回")),
        ("procurement", ev("plan", "ProcurementPlanned", moment(3, 1), procurement_id="P-EV",
                           line_id=line, amount="60000.00", method="inquiry")),
        ("procurement", ev("award", "ContractAwarded", moment(4, 2), procurement_id="P-EV",
                           contract_id="C-EV", supplier="某公司", amount="58000.00")),
    ]  # fmt: skip


def published() -> list[tuple[str, dict[str, Any]]]:
    return [*(("budget", e) for e in demo.budget_events()), *cases(0, 1500), *extras()]


def at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def money_events(events: list[dict[str, Any]], end: datetime) -> dict[str, dict[str, Decimal]]:
    """Per department and money metric: event_id -> its signed amount, as of ``end``,
    selected from the published events with the contract's definitions."""
    by_id = {e["event_id"]: e for e in events}
    sangong = {e["data"]["line_id"] for e in events
               if e["event_type"] == "BudgetAuthorised" and e["data"].get("sangong")}  # fmt: skip
    found: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for e in events:
        if at(e) >= end or e["fiscal_year"] != YEAR:
            continue
        kind, data = e["event_type"], e["data"]
        amount = Decimal(data.get("amount", "0"))
        if kind == "DisbursementReversed":
            data = by_id[data["reverses"]]["data"]
            amount = -Decimal(data["amount"])
        for metric, counts in {
            "initial_budget": kind == "BudgetAuthorised",
            "adjusted_budget": kind in ("BudgetAuthorised", "BudgetAdjusted"),
            "arrived": kind == "FundsArrived",
            "transferred": kind == "FundsTransferred",
            "spent": kind in ("Disbursed", "DisbursementReversed"),
            "planned": kind == "ProcurementPlanned",
            "contracted": kind == "ContractAwarded",
        }.items():
            if counts:
                found[f"{e['department']}:{metric}"][e["event_id"]] = amount
        line = data.get("line_id")
        if kind in ("BudgetAuthorised", "BudgetAdjusted", "Disbursed", "DisbursementReversed"):
            spending = kind in ("Disbursed", "DisbursementReversed")
            found[f"{e['department']}:balance"][e["event_id"]] = -amount if spending else amount
            if line in sangong and kind != "BudgetAdjusted":
                metric = "sangong_spent" if spending else "sangong_budget"
                found[f"{e['department']}:{metric}"][e["event_id"]] = amount
    return found


def case_events(events: list[dict[str, Any]], end: datetime) -> dict[str, set[str]]:
    """Per case metric: the event ids that put a case in the count as of ``end``."""
    stages: dict[str, dict[str, Any]] = defaultdict(dict)
    for e in events:
        if e["event_type"].startswith("Case") and e["department"] == GRID:
            case = stages[e["data"]["case_id"]]
            case.setdefault(e["event_type"], (at(e), e["event_id"]))  # the first dispatch
            if e["event_type"] == "CaseReported":
                case["advance"] = e["data"].get("advance_disposal", False)
            if e["event_type"] == "CaseFiled":
                case["deadline"] = datetime.fromisoformat(e["data"]["deadline_at"])
    found: dict[str, set[str]] = defaultdict(set)
    for case in stages.values():
        happened = {k: v[1] for k, v in case.items() if k.startswith("Case") and v[0] < end}
        closed, deadline = case.get("CaseClosed", (None,))[0], case.get("deadline")
        for metric, stage in (("reported", "CaseReported"), ("accepted", "CaseAccepted"),
                              ("filed", "CaseFiled"), ("dispatched", "CaseDispatched"),
                              ("disposed", "CaseDisposed"), ("closed", "CaseClosed")):  # fmt: skip
            if stage in happened:
                found[metric].add(happened[stage])
        is_closed = "CaseClosed" in happened
        if is_closed and deadline is not None:
            found["due_closed"].add(happened["CaseClosed"])
            if closed <= deadline:
                found["closed_on_time"].add(happened["CaseClosed"])
        if "CaseFiled" in happened and deadline is not None:
            if deadline < end or is_closed:
                found["due"].add(happened["CaseFiled"])
            if deadline < end and not is_closed:
                found["overdue"].add(happened["CaseFiled"])
        if "CaseAccepted" in happened and not is_closed:
            found["open"].add(happened["CaseAccepted"])
        if case.get("advance") and "CaseReported" in happened:
            found["advance_disposals"].add(happened["CaseReported"])
    return found


async def paged(stack: Stack, **variables: Any) -> AsyncIterator[dict[str, Any]]:
    """Every page of a connection, following endCursor."""
    after = None
    while True:
        page = (await stack.query(PAGE, after=after, **variables))["evidence"]
        yield page
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def flat(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for group in figures.values() for k, v in group.items()}


async def test_every_figure_is_the_sum_or_count_of_its_events(stack: Stack) -> None:
    await stack.start_all()
    events = published()
    await stack.settle(await stack.publish(events))
    envelopes = [e for _, e in events]
    for day in DAYS:
        end = datetime.combine(day + timedelta(days=1), time(), TZ)
        money, counted = money_events(envelopes, end), case_events(envelopes, end)
        for department in (GRID, demo.BUREAU):
            figures = flat((await stack.query(FIGURES, department=department, asOf=str(day)))[
                "departmentEvaluation"])  # fmt: skip
            metrics = [*MONEY, *(CASES if department == GRID else ())]
            for metric in metrics:
                name = camel(metric)
                pages = [p async for p in paged(stack, department=department, metric=name,
                                                asOf=str(day))]  # fmt: skip
                nodes = [edge["node"] for page in pages for edge in page["edges"]]
                positions = [node["position"] for node in nodes]
                assert positions == sorted(set(positions)), name  # ledger order, no repeats
                first = pages[0]
                assert (first["metric"], first["asOf"]) == (name, str(day))
                assert first["totalCount"] == len(nodes), (day, department, name)
                if metric in MONEY:
                    expected = money[f"{department}:{metric}"]
                    assert {n["eventId"]: Decimal(n["amount"]) for n in nodes} == expected
                    assert Decimal(first["sum"]) == sum(expected.values(), Decimal(0))
                    assert first["sum"] == figures[name], (day, department, name)
                else:
                    assert {n["eventId"] for n in nodes} == counted[metric], (day, name)
                    assert first["totalCount"] == figures[name] and first["sum"] is None
    # what a node carries: the event as accepted
    page = await stack.query(PAGE, department=GRID, metric="spent", asOf="2017-05-31")
    reversal = next(e["node"] for e in page["evidence"]["edges"]
                    if e["node"]["eventType"] == "DisbursementReversed")  # fmt: skip
    assert reversal["eventId"] == "evidence-reversal" and reversal["amount"].startswith("-")
    assert reversal["data"] == {"reverses": f"gd2017-{demo.BASIC_LINE}-pay-03-302",
                                "reason": "退回"}  # fmt: skip
    assert reversal["source"] == "finance" and reversal["department"] == GRID


async def test_pages_are_stable_and_questions_checked(stack: Stack) -> None:
    await stack.start_all()
    await stack.settle(await stack.publish(published()))
    asked = {"department": GRID, "metric": "closed", "first": 10}
    first = (await stack.query(PAGE, **asked))["evidence"]
    cursor = first["edges"][4]["cursor"]
    again = [(await stack.query(PAGE, after=cursor, **asked))["evidence"] for _ in range(2)]
    assert again[0] == again[1]  # the same after, the same page
    assert again[0]["edges"][:5] == first["edges"][5:]
    line = (await stack.query(PAGE, department=GRID, metric="spent",
                              lineId=demo.SANGONG_LINE))["evidence"]  # fmt: skip
    assert {e["node"]["data"]["line_id"] for e in line["edges"]} == {demo.SANGONG_LINE}
    sangong = await stack.query('{ lineEvaluation(lineId: "' + demo.SANGONG_LINE + '") { spent } }')
    assert line["sum"] == sangong["lineEvaluation"]["spent"]

    gateway = Gateway(f"http://127.0.0.1:{stack.port}")
    for variables, message in (
        ({"metric": "closureRate"}, "metric 'closureRate' is a rate: its evidence is that of "
         "its numerator closed and of its denominator accepted"),
        ({"metric": "score"}, "metric 'score' has no evidence: it is none of accepted,"),
        ({"metric": "closed", "after": "bm90IGEgY3Vyc29y"}, "after 'bm90IGEgY3Vyc29y' is not "
         "a cursor of this connection"),
        ({"metric": "closed", "first": 0}, "first 0 is not between 1 and 1000"),
        ({"metric": "closed", "lineId": demo.SANGONG_LINE}, "metric 'closed' with lineId: a "
         "budget line has budget figures only"),
        ({"metric": "spent", "lineId": demo.ZHGD_LINE}, f"lineId '{demo.ZHGD_LINE}' is a line "
         f"of {demo.BUREAU} in 2017, not of {GRID} in 2017"),
        ({"metric": "spent", "asOf": "2018-01-01"}, "asOf 2018-01-01 is outside fiscal year"),
    ):  # fmt: skip
        _, body = gateway.post(PAGE, token(), {"department": GRID, **variables})
        assert body["data"] == {"evidence": None}
        assert body["errors"][0]["message"].startswith(message), body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    _, outside = gateway.post(PAGE, token([demo.BUREAU], ["evaluator"]),
                              {"department": GRID, "metric": "spent"})  # fmt: skip
    assert outside["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_evaluation_page_links_every_figure_to_its_evidence(stack: Stack) -> None:
    await stack.start_all()
    await stack.settle(await stack.publish(published()))
    headers = {"authorization": f"Bearer {token()}"}

    def get(path: str) -> httpx.Response:
        response = httpx.get(f"http://127.0.0.1:{stack.port}{path}", headers=headers, timeout=60)
        assert response.status_code == 200, (path, response.text[:500])
        return response

    evaluation = get(f"/departments/{GRID}/2017?asOf=2017-05-10").text
    links = set(re.findall(r'href="(/departments/[^"]*/evidence/[^"]*)"', evaluation))
    base = f"/departments/{GRID}/2017/evidence/"
    assert f"{base}spent?asOf=2017-05-10" in links  # a money figure
    assert f"{base}closedOnTime?asOf=2017-05-10" in links  # a count
    assert f"{base}executionRate?asOf=2017-05-10" in links  # a rate
    figures = (await stack.query(FIGURES, department=GRID, asOf="2017-05-10"))[
        "departmentEvaluation"]  # fmt: skip

    spent = get(f"{base}spent?asOf=2017-05-10").text
    rows = table_rows(spent, "events")[1:]
    assert "支付冲销" in {row[2] for row in rows}  # event types by their names
    assert re.search(r'id="sum">([^<]+)<', spent).group(1) == wan(figures["budget"]["spent"])
    assert f"{base}spent.csv?asOf=2017-05-10" in spent

    # a count over several pages: the next page continues, the CSV holds them all
    closed = get(f"{base}closed?asOf=2017-05-10").text
    total = figures["cases"]["closed"]
    assert re.search(r'id="total-count">([^<]+)<', closed).group(1) == f"{total:,}"
    first = table_rows(closed, "events")[1:]
    following = html.unescape(re.search(r'id="next" href="([^"]+)"', closed).group(1))
    second = table_rows(get(following).text, "events")[1:]
    assert len(first) == 100 and int(second[0][0]) > int(first[-1][0])
    download = get(f"{base}closed.csv?asOf=2017-05-10")
    assert download.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert lines[0][:3] == ["账本位置", "事件编号", "事件类型"] and len(lines) == 1 + total
    assert [row[:2] for row in lines[1:101]] == [row[:2] for row in first]

    # a rate: its numerator and its denominator, each linked to its events
    rate = get(f"{base}executionRate?asOf=2017-05-10").text
    terms = table_rows(rate, "terms")[1:]
    assert [row[1] for row in terms] == ["支出", "调整后预算"]
    assert terms[0][2] == wan(figures["budget"]["spent"]) + " 万元"
    assert f'href="{base}spent?asOf=2017-05-10"' in rate
