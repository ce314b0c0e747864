"""The pages on the real gateway over HTTP (real PostgreSQL): Chinese error pages for a
browser and JSON for /graphql, assignees by their registered names in one batch, and the
assessment's note on why it has no rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.performance import store
from tests.fakes_performance import typed_all
from tests.gateway import Gateway, serving, token
from tests.helpers import table_rows
from tests.integration.conftest import LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS, migrated_pool
from tests.integration.test_access import entry, units
from tests.integration.test_as_of import TZ

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory, pg_dsn: str) -> AsyncIterator[Gateway]:
    from tests.conftest import create_database

    database = await create_database(pg_dsn)
    entries = units()
    # a case dispatched to a department nobody registered
    extra = [
        entry("CaseReported", "BUREAU", "2017-03-02T09:00", case_id="CX",
              channel="public_hotline", category="占道经营", kind="event"),
        entry("CaseAccepted", "BUREAU", "2017-03-02T09:10", case_id="CX"),
        entry("CaseDispatched", "BUREAU", "2017-03-02T09:30", case_id="CX", assignee="NOBODY"),
    ]  # fmt: skip
    for position, e in enumerate(extra, start=len(entries) + 1):
        e["position"] = position
    async with migrated_pool(database, LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS) as pool:
        await store.apply_entries(pool, typed_all(entries + extra), TZ)
    logs = tmp_path_factory.mktemp("gateway") / "reporting.log"
    async with serving(database, logs) as gateway:
        yield gateway


async def test_an_unknown_route_answers_a_chinese_page(gateway: Gateway) -> None:
    response = await asyncio.to_thread(gateway.get, "/no/such/page", token())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "页面或数据不存在" in response.text and "Not Found" in response.text
    assert "<html" in response.text
    unknown = await asyncio.to_thread(gateway.get, "/departments/NOPE/2017", token())
    assert unknown.status_code == 404 and "页面或数据不存在" in unknown.text
    assert "unknown department" in unknown.text  # the technical message stays under it


async def test_graphql_errors_stay_json(gateway: Gateway) -> None:
    response = await asyncio.to_thread(gateway.get, "/graphql/nothing", token())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "errors" in response.json()


async def test_by_assignee_carries_registered_names(gateway: Gateway) -> None:
    status, body = await asyncio.to_thread(gateway.post, """{
      departmentEvaluation(department: "BUREAU", fiscalYear: 2017) {
        cases { byAssignee { assignee name } } } }""", token())  # fmt: skip
    assert status == 200, body
    rows = body["data"]["departmentEvaluation"]["cases"]["byAssignee"]
    names = {r["assignee"]: r["name"] for r in rows}
    assert names["UNIT-A"] == "A" and names["OTHER"] == "O" and names["NOBODY"] is None
    page = await asyncio.to_thread(gateway.get, "/departments/BUREAU/2017", token())
    assert page.status_code == 200 and "承办 A<" in page.text and "承办 NOBODY<" in page.text


async def test_an_empty_assessment_says_why(gateway: Gateway) -> None:
    query = """query($d: String!, $m: Int) {
      assessment(department: $d, fiscalYear: 2017, month: $m) { assignees { assignee } note } }"""
    status, body = await asyncio.to_thread(gateway.post, query, token(), {"d": "BUREAU", "m": 1})
    assert status == 200, body
    a = body["data"]["assessment"]
    assert a["assignees"] == [] and "没有案件派遣" in a["note"]
    status, body = await asyncio.to_thread(gateway.post, query, token(), {"d": "BUREAU", "m": 3})
    assert body["data"]["assessment"]["assignees"] and body["data"]["assessment"]["note"] is None
    page = await asyncio.to_thread(gateway.get, "/departments/BUREAU/2017/assessment/1", token())
    assert page.status_code == 200 and 'id="note"' in page.text and "没有案件派遣" in page.text


async def test_the_reconcile_page_checks_pasted_and_uploaded_figures(gateway: Gateway) -> None:
    status, body = await asyncio.to_thread(gateway.post, """{
      departmentEvaluation(department: "BUREAU", fiscalYear: 2017) {
        cases { accepted closureRate } } }""", token())  # fmt: skip
    assert status == 200, body
    cases = body["data"]["departmentEvaluation"]["cases"]
    percent = Decimal(cases["closureRate"]) * 100
    csv = (
        "label,metric,value,unit\n"
        f"受理,accepted,{cases['accepted']},count\n"
        f"结案率,closure_rate,{percent:.2f},percent\n"
        f"结案率（误印）,closure_rate,{percent + 1:.2f},percent\n"
    )
    url = gateway.url + "/departments/BUREAU/2017/reconcile"
    headers = {"authorization": f"Bearer {token()}"}

    def post(**form: Any) -> httpx.Response:
        return httpx.post(url, headers=headers, timeout=60, **form)

    empty = await asyncio.to_thread(httpx.get, url, headers=headers, timeout=60)
    assert empty.status_code == 200 and "<form" in empty.text and "核对结果" not in empty.text
    for sent in ({"data": {"figures": csv}}, {"files": {"file": ("r.csv", csv.encode())}}):
        page = await asyncio.to_thread(post, **sent)
        assert page.status_code == 200, page.text
        rows = table_rows(page.text, "reconciled")[1:]  # under the header
        assert [row[-1] for row in rows] == ["不一致", "一致", "一致"]  # mismatches first
        assert rows[0][0] == "结案率（误印）" and rows[0][5] == "1.00"
        assert rows[1][1] == "受理" or rows[2][1] == "受理"  # metrics by their names
        assert "1 项不一致，共 3 项" in page.text

    bad = await asyncio.to_thread(post, data={"figures": "x,closure_rate\n"})
    assert bad.status_code == 400 and "header row lacks label, metric, value, unit" in bad.text
    other = {"authorization": f"Bearer {token(departments=['UNIT-A'])}"}
    refused = await asyncio.to_thread(httpx.get, url, headers=other, timeout=60)
    assert refused.status_code == 403
