"""The self-evaluation table (docs/contract.md section 8) on the real gateway over HTTP: a
project line funded from three sources and a department with a subunit; GraphQL's table
against a count by hand of the events and against the evaluation of the same figures; the
page, the .xlsx and the PDF carry the same figures, in 万元."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from services.performance import store
from services.reporting.scoring import grade
from tests.fakes_performance import typed_all
from tests.gateway import Gateway, serving, token
from tests.integration.conftest import LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS, migrated_pool
from tests.integration.test_as_of import TZ

pytestmark = pytest.mark.integration

D = Decimal
AUDITOR = token(["BUREAU"], ["evaluator"])


def entry(event_type: str, department: str = "BUREAU", **data: Any) -> dict[str, Any]:
    event = {"event_type": event_type, "department": department, "fiscal_year": 2017,
             "occurred_at": "2017-05-01T10:00:00+08:00", "data": data}  # fmt: skip
    return {"event": event, "context": {}}


def money(event_type: str, amount: str, source: str, department: str = "BUREAU",
          line: str = "L-P", **data: Any) -> dict[str, Any]:  # fmt: skip
    return entry(event_type, department, line_id=line, amount=amount, funding_source=source,
                 **data)  # fmt: skip


def pay(amount: str, source: str, **data: Any) -> dict[str, Any]:
    return money("Disbursed", amount, source, economic_class="302", **data)


ENTRIES = [
    entry("DepartmentRegistered", name="区城市管理局"),
    entry("DepartmentRegistered", "UNIT", name="区执法大队", parent="BUREAU"),
    entry("DepartmentRegistered", "OTHER", name="别的局"),
    money("BudgetAuthorised", "1000000.00", "appropriation", title="网格化运行",
          category="project"),
    money("BudgetAuthorised", "200000.00", "carryover", title="网格化运行", category="project"),
    money("BudgetAdjusted", "50000.00", "other", reason="追加"),
    money("FundsArrived", "800000.00", "appropriation"),
    money("FundsArrived", "200000.00", "carryover"),
    money("FundsArrived", "50000.00", "other"),
    pay("300000.00", "appropriation", spending_department="UNIT"),
    pay("150000.00", "carryover"),
    pay("20000.00", "other"),
    pay("10000.00", "appropriation"),  # reversed below
    entry("PerformanceTargetSet", target_id="exec", line_id="L-P", level1="产出指标",
          level2="时效指标", name="预算执行率", metric="execution_rate", comparator=">=",
          value="0.9", unit="%", weight=20),
    entry("PerformanceTargetSet", target_id="trained", line_id="L-P", level1="产出指标",
          level2="数量指标", name="培训网格员", metric="output:培训网格员", comparator=">=",
          value="100", unit="人", weight=10),
    entry("OutputRecorded", indicator="培训网格员", quantity="80", unit="人", line_id="L-P"),
    entry("PerformanceTargetSet", target_id="dept", level1="产出指标", level2="时效指标",
          name="部门预算执行率", metric="execution_rate", comparator=">=", value="0.5",
          unit="%", weight=10),
    money("BudgetAuthorised", "100000.00", "appropriation", "UNIT", "L-U", title="大队基本支出",
          category="basic"),
    money("FundsArrived", "100000.00", "appropriation", "UNIT", "L-U"),
    money("Disbursed", "100000.00", "appropriation", "UNIT", "L-U", economic_class="301"),
    money("BudgetAuthorised", "9.00", "appropriation", "OTHER", "L-O", title="别的",
          category="project"),
]  # fmt: skip
REVERSAL = entry("DisbursementReversed", reverses="e13", reason="退回")


def by_source(lines: set[str]) -> dict[str, dict[str, Decimal]]:
    """The funds of lines by source, counted by hand from ENTRIES (the reversal: -10,000)."""
    found: dict[str, dict[str, Decimal]] = {}
    for e in ENTRIES:
        data = e["event"]["data"]
        if data.get("line_id") not in lines or "funding_source" not in data:
            continue
        sums = found.setdefault(data["funding_source"], dict.fromkeys(("i", "a", "x"), D(0)))
        amount, kind = D(data["amount"]), e["event"]["event_type"]
        sums["i"] += amount if kind == "BudgetAuthorised" else 0
        sums["a"] += amount if kind in ("BudgetAuthorised", "BudgetAdjusted") else 0
        sums["x"] += amount if kind == "Disbursed" else 0
    found["appropriation"]["x"] -= D("10000.00")
    return found


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory, pg_dsn: str) -> AsyncIterator[Gateway]:
    from tests.conftest import create_database

    database = await create_database(pg_dsn)
    entries = [*ENTRIES, REVERSAL]
    for position, e in enumerate(entries, start=1):
        e["position"] = position  # event e<position>
    REVERSAL["context"] = {"reversed": {"line_id": "L-P", "amount": "10000.00",
                                        "economic_class": "302", "spending_department": "BUREAU",
                                        "funding_source": "appropriation"}}  # fmt: skip
    async with migrated_pool(database, LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS) as pool:
        await store.apply_entries(pool, typed_all(entries), TZ)
    async with serving(database, tmp_path_factory.mktemp("gateway") / "reporting.log") as served:
        yield served


TABLE = """query($line: String, $department: String, $sub: Boolean! = false) {
  selfEvaluation(fiscalYear: 2017, lineId: $line, department: $department,
                 includeSubunits: $sub) {
    kind title department implementingUnits
    funds { initialBudget adjustedBudget executed executionRate weight score
            bySource { source sourceName initialBudget adjustedBudget executed } }
    indicators { targetId name actual weight score deviationNote }
    total grade projectionDigest
  }
  departmentEvaluation(department: "BUREAU", fiscalYear: 2017, includeSubunits: $sub) {
    budget { initialBudget adjustedBudget spent executionRate } indicators { targetId score }
  }
  lineEvaluation(lineId: "L-P") { initialBudget adjustedBudget spent executionRate
                                  indicators { targetId score } }
}"""


def half_up(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(D(places), ROUND_HALF_UP)


def check_table(t: dict[str, Any], lines: set[str]) -> None:
    """Funds by source as counted by hand; the scores by the contract's arithmetic."""
    sources = by_source(lines)
    assert [s["source"] for s in t["funds"]["bySource"]] == [
        s for s in ("appropriation", "carryover", "other") if s in sources
    ]
    for s in t["funds"]["bySource"]:
        mine = sources[s["source"]]
        assert (D(s["initialBudget"]), D(s["adjustedBudget"]), D(s["executed"])) == (
            mine["i"],
            mine["a"],
            mine["x"],
        ), s
    funds = t["funds"]
    for field, key in (("initialBudget", "i"), ("adjustedBudget", "a"), ("executed", "x")):
        assert D(funds[field]) == sum(s[key] for s in sources.values()), field
    execution = half_up(D(funds["executed"]) / D(funds["adjustedBudget"]), "0.0001")
    assert D(funds["executionRate"]) == execution and funds["weight"] == "10"
    assert D(funds["score"]) == half_up(10 * min(execution, D(1)))
    total = D(funds["score"]) + sum(D(i["score"]) for i in t["indicators"])
    assert D(t["total"]) == total
    weights = 10 + sum(D(i["weight"]) for i in t["indicators"])
    assert t["grade"] == grade(total, weights)
    assert re.fullmatch("[0-9a-f]{64}", t["projectionDigest"])


def test_a_line_funded_from_three_sources(gateway: Gateway) -> None:
    status, body = gateway.post(TABLE, AUDITOR, {"line": "L-P"})
    assert status == 200 and "errors" not in body, body
    t, line = body["data"]["selfEvaluation"], body["data"]["lineEvaluation"]
    check_table(t, {"L-P"})
    assert (t["kind"], t["title"], t["department"]) == ("project", "网格化运行", "区城市管理局")
    assert t["implementingUnits"] == ["区城市管理局", "区执法大队"]  # who spent the money
    assert [s["sourceName"] for s in t["funds"]["bySource"]] == ["财政拨款", "上年结转", "其他资金"]
    f = t["funds"]
    assert (f["initialBudget"], f["adjustedBudget"], f["executed"], f["executionRate"]) == (
        line["initialBudget"],
        line["adjustedBudget"],
        line["spent"],
        line["executionRate"],
    )
    assert {i["targetId"]: i["score"] for i in t["indicators"]} == {
        i["targetId"]: i["score"] for i in line["indicators"]
    }
    # 470,000 of 1,250,000: 0.3760; 20 × 0.376 / 0.9 = 8.36; 10 × 80 / 100 = 8.00
    assert (f["executionRate"], f["score"], t["total"], t["grade"]) == ("0.3760", "3.76",
                                                                       "20.12", "差")  # fmt: skip
    assert [i["deviationNote"] for i in t["indicators"]] == [None, None]


@pytest.mark.parametrize("sub", [False, True])
def test_a_department_with_and_without_its_subunit(gateway: Gateway, sub: bool) -> None:
    status, body = gateway.post(TABLE, AUDITOR, {"department": "BUREAU", "sub": sub})
    assert status == 200 and "errors" not in body, body
    t, evaluation = body["data"]["selfEvaluation"], body["data"]["departmentEvaluation"]
    check_table(t, {"L-P", "L-U"} if sub else {"L-P"})
    assert t["title"] == "区城市管理局整体支出" and t["kind"] == "department"
    assert t["implementingUnits"] == ["区城市管理局", *(["区执法大队"] if sub else [])]
    budget = evaluation["budget"]
    assert (t["funds"]["adjustedBudget"], t["funds"]["executed"]) == (
        budget["adjustedBudget"],
        budget["spent"],
    )
    assert [i["targetId"] for i in t["indicators"]] == ["dept"]  # the department's own
    assert t["indicators"][0]["score"] == evaluation["indicators"][0]["score"]


def test_outside_the_scope_and_a_wrong_question(gateway: Gateway) -> None:
    status, body = gateway.post(TABLE, AUDITOR, {"department": "OTHER"})
    assert body["data"]["selfEvaluation"] is None
    assert "FORBIDDEN" in {e["extensions"]["code"] for e in body["errors"]}
    assert gateway.get("/departments/OTHER/2017/self-evaluation.xlsx", AUDITOR).status_code == 403
    _, body = gateway.post(TABLE, AUDITOR, {"line": "L-P", "department": "BUREAU"})
    assert "exactly one of them" in body["errors"][0]["message"]
    page = gateway.get("/lines/NOPE/2017", AUDITOR)
    assert page.status_code == 404 and "unknown budget line &#39;NOPE&#39;" in page.text


def test_the_page_the_workbook_and_the_pdf_carry_the_same_figures(
    gateway: Gateway, tmp_path: Path
) -> None:
    _, body = gateway.post(TABLE, AUDITOR, {"line": "L-P"})
    t = body["data"]["selfEvaluation"]
    page = gateway.get("/lines/L-P/2017", AUDITOR)
    assert page.status_code == 200
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page.text)
    # 万元: 1,200,000 authorised, 1,250,000 adjusted, 470,000 executed; by source
    for shown in ("120.00", "125.00", "47.00", "37.60%", "3.76", "其中：财政拨款", "上年结转",
                  "其他资金", "20.00", "5.00", "20.12", "等级：差", "预算执行率",
                  "培训网格员"):  # fmt: skip
        assert shown in cells, shown
    assert t["projectionDigest"] in page.text

    xlsx = gateway.get("/lines/L-P/2017/self-evaluation.xlsx", AUDITOR)
    assert xlsx.status_code == 200 and "self-evaluation-L-P-2017.xlsx" in xlsx.headers[
        "content-disposition"]  # fmt: skip
    ws = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    for number in (120.0, 125.0, 47.0, 0.376, 3.76, 100.0, 20.0, 5.0, 20.12):
        assert number in values, number
    assert {"预算执行率", "培训网格员", "其中：财政拨款", "上年结转", "其他资金"} <= set(values)
    assert t["projectionDigest"] in ws.oddFooter.left.text
    assert gateway.get("/departments/BUREAU/2017/self-evaluation.xlsx", AUDITOR).status_code == 200

    pdf = gateway.get("/lines/L-P/2017/self-evaluation.pdf", AUDITOR)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        (tmp_path / "t.pdf").write_bytes(pdf.content)
        text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "t.pdf"), "-"],
                              check=True, capture_output=True, text=True).stdout  # fmt: skip
        assert "项目支出绩效自评表" in text and "125.00" in text and "37.60%" in text
