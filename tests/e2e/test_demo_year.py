"""The whole product as a user runs it: `python -m deploy.stack` (what `make run` starts)
publishes the seed report's 2017 through Kafka; the report's own figures come back
through GraphQL over HTTP."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import openpyxl
import pytest

from demo.guandu2017 import FUNCTIONAL, STREETS
from tests.e2e.launcher import READY, launch
from tests.gateway import Gateway
from tests.helpers import chromium, graphql, table_rows, text_by_id

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", "artifacts"))  # screenshots, PDF, its image


@dataclass
class Demo:
    """The running demo as its printout tells a user: the GraphQL address and the sign-in
    links (an auditor's of every department, an evaluator's of GD-CGJ)."""

    graphql_url: str
    auditor_link: str
    evaluator_link: str

    @property
    def base(self) -> str:
        return self.graphql_url.removesuffix("/graphql")

    @staticmethod
    def token_of(link: str) -> str:
        return parse_qs(urlsplit(link).query)["token"][0]

    @property
    def token(self) -> str:
        return self.token_of(self.auditor_link)

    def page(self, path: str) -> str:
        """The auditor's sign-in link to a page (a browser follows it, cookie set)."""
        return f"{self.base}/login?token={self.token}&next={quote(path, safe='/')}"

    async def query(self, query: str, **variables: Any) -> dict[str, Any]:
        return await graphql(self.graphql_url, query, token=self.token, **variables)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    launched = launch(tmp_path_factory.mktemp("stack"))
    try:
        printed = launched.wait_for(READY, timeout=1500)
        links = re.findall(r"(http://\S+/login\?token=\S+)", printed)
        assert len(links) == 2, printed  # the auditor's and the evaluator's
        # where to look is printed as soon as the gateway answers, before the demo loads
        assert printed.index("GraphQL:") < printed.index("published the demo year"), printed
        # each service runs under its own role (deploy/provision.py), the CLIs' lines say so
        assert "DATABASE_URL='postgresql://ledger_service@" in printed, printed
        assert "DATABASE_URL='postgresql://performance_service@" in printed, printed
        yield Demo(f"http://127.0.0.1:{launched.graphql_port}/graphql", *links)
    finally:
        assert launched.stop() == 0  # Ctrl-C
        assert "stopped" in launched.printed()


QUERY = """
{
  project: lineEvaluation(lineId: "GD-CGJ-2017-ZHGD", asOf: "2017-08-31") {
    adjustedBudget arrived transferred spent arrivalRate executionRate spentOfArrivedRate
    bySpendingDepartment { department spent }
    indicators { targetId actual score } score grade
  }
  centre: departmentEvaluation(department: "GD-GRID", fiscalYear: 2017) {
    headcountAuthorised headcountActual
    budget { executionRate byCategory { category spent share } }
    cases {
      accepted closed closureRate advanceDisposals
      byChannel { channel accepted closed closureRate }
      byKind { kind advanceDisposals }
    }
    outputs { indicator quantity unit }
    indicators { targetId actual score } score grade
    monthly { month accepted closed closureRate }
  }
  departments(fiscalYear: 2017) { code name parent }
}
"""


async def test_the_seed_reports_figures(stack: Demo) -> None:
    data = await stack.query(QUERY)
    project = data["project"]
    # "项目申报预算资金3689.01万元"; "收到...额度26942600.00元, 资金到位率73.03%"
    assert project["adjustedBudget"] == "36890100.00"
    assert project["arrived"] == "26942600.00"
    assert project["arrivalRate"] == "0.7303"
    # "下拨官渡区数字化城市管理办公室9297200.00元、下拨官渡区综合行政执法大队17645400.00元"
    assert project["transferred"] == "26942600.00"
    # "实际发生总支出3907946.12元 ... 占预算36890100.00元的10.59%, 占已下达额度...的14.50%"
    assert project["spent"] == "3907946.12"
    assert project["executionRate"] == "0.1059"
    assert project["spentOfArrivedRate"] == "0.1450"
    # "工资3698689.12元、信息费193657.00元、意外伤害保险费15600.00元", spent by the two units
    assert {d["department"]: d["spent"] for d in project["bySpendingDepartment"]} == {
        "GD-SGB": "193657.00",
        "GD-ZFDD": "3714289.12",
    }

    centre = data["centre"]
    # "基本支出数为128.93万元, 占总支出的30.51%"; "项目支出数为293.67万元, 占总支出的69.49%"
    assert {c["category"]: (c["spent"], c["share"]) for c in centre["budget"]["byCategory"]} == {
        "basic": ("1289300.00", "0.3051"),
        "project": ("2936700.00", "0.6949"),
    }
    # "支出预算执行率100%"
    assert centre["budget"]["executionRate"] == "1.0000"
    # "共受理...投诉452034件, 处理结案437273件, 结案率为96.73%"
    cases = centre["cases"]
    assert (cases["accepted"], cases["closed"], cases["closureRate"]) == (452034, 437273, "0.9673")
    # "通过12319和67169110公众投诉渠道受理...5475件, 结案5475件, 结案率100%"
    public = next(c for c in cases["byChannel"] if c["channel"] == "public_hotline")
    assert (public["accepted"], public["closed"], public["closureRate"]) == (5475, 5475, "1.0000")
    # "共先行处置案件19524件,其中,部件类案件932件 ... 事件类案件18592件"
    assert cases["advanceDisposals"] == 19524
    assert {k["kind"]: k["advanceDisposals"] for k in cases["byKind"]} == {
        "component": 932,
        "event": 18592,
    }
    # "核定事业编制8名(现实有人员10人,超编2人)"
    assert (centre["headcountAuthorised"], centre["headcountActual"]) == (8, 10)
    # "2017年共采集门前三包信息10162条、门头广告信息7355条、公厕信息99条"
    assert {o["indicator"]: o["quantity"] for o in centre["outputs"]} == {
        "门前三包信息": "10162",
        "门头广告信息": "7355",
        "公厕信息": "99",
    }
    # the demo's (invented) targets, scored as docs/contract.md section 4 says
    assert {i["targetId"]: (i["actual"], i["score"]) for i in centre["indicators"]} == {
        "closure": ("0.9673", "20.00"),
        "execution": ("1.0000", "20.00"),
        "advance": ("19524", "10.00"),
        "mqsb": ("10162", "10.00"),
        "mtgg": ("7355", "10.00"),
        "gc": ("99", "8.25"),  # 99 of 120 toilets
    }
    assert (centre["score"], centre["grade"]) == ("78.25", "优")  # 97.8 % of 80 points
    assert (project["score"], project["grade"]) == ("8.48", "差")  # 7.30 + 1.18 of 20
    months = centre["monthly"]
    assert [m["month"] for m in months] == [f"2017-{m:02d}" for m in range(1, 13)]
    assert (months[-1]["accepted"], months[-1]["closureRate"]) == (452034, "0.9673")
    parents = {d["code"]: d["parent"] for d in data["departments"]}
    assert {code: parents[code] for code in ("GD-GRID", "GD-CGJ", "GD-SGB", "GD-ZFDD")} == {
        "GD-CGJ": None,
        "GD-GRID": None,
        "GD-SGB": "GD-CGJ",
        "GD-ZFDD": "GD-CGJ",
    }
    assert {f"GD-JD0{n}" for n in range(1, 9)} <= set(parents)  # the (invented) streets


RECONCILE = """
query($line: [PrintedFigure!]!, $centre: [PrintedFigure!]!) {
  line: reconcile(department: "GD-CGJ", fiscalYear: 2017, asOf: "2017-08-31", printed: $line) {
    label computed reproduces difference }
  centre: reconcile(department: "GD-GRID", fiscalYear: 2017, printed: $centre) {
    label computed reproduces difference }
}
"""


async def test_the_seed_reports_printed_figures_reconcile(stack: Demo) -> None:
    def printed(label: str, metric: str, value: str, unit: str, **line: str) -> dict[str, str]:
        return {"label": label, "metric": metric, "value": value, "unit": unit, **line}

    zhgd = {"lineId": "GD-CGJ-2017-ZHGD"}
    data = await stack.query(
        RECONCILE,
        line=[
            printed("项目申报预算资金", "adjusted_budget", "3689.01", "wan_yuan", **zhgd),
            printed("资金到位率", "arrival_rate", "73.03", "percent", **zhgd),
            printed("实际发生总支出", "spent", "3907946.12", "yuan", **zhgd),
            printed("占预算", "execution_rate", "10.59", "percent", **zhgd),
            printed("占已下达额度", "spent_of_arrived_rate", "14.50", "percent", **zhgd),
        ],
        centre=[
            printed("受理", "accepted", "452034", "count"),
            printed("结案", "closed", "437,273", "count"),
            printed("结案率", "closure_rate", "96.73", "percent"),
            printed("结案率 (misprinted)", "closure_rate", "96.75", "percent"),
        ],
    )
    assert all(r["reproduces"] for r in data["line"]), data["line"]
    assert [(r["computed"], r["reproduces"], r["difference"]) for r in data["centre"]] == [
        ("452034", True, "0"),
        ("437273", True, "0"),
        ("96.73", True, "0.00"),
        ("96.73", False, "0.02"),
    ]
    _, body = Gateway(stack.base).post(  # a line of another department
        RECONCILE, stack.token, {"line": [], "centre": [printed("x", "spent", "1", "yuan", **zhgd)]}
    )
    assert "'GD-CGJ-2017-ZHGD' is a line of GD-CGJ in 2017, not of GD-GRID" in str(body["errors"])


async def test_as_of_a_date_before_the_money_arrived(stack: Demo) -> None:
    data = await stack.query(
        """{ lineEvaluation(lineId: "GD-CGJ-2017-ZHGD", asOf: "2017-05-11") {
               arrived arrivalRate spent executionRate spentOfArrivedRate } }""",
    )
    assert data["lineEvaluation"] == {
        "arrived": "8000000.00",
        "arrivalRate": "0.2169",
        "spent": "0.00",
        "executionRate": "0.0000",
        "spentOfArrivedRate": "0.0000",
    }


async def test_the_evaluation_page_shows_the_same_figures(
    stack: Demo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The page an evaluator prints, rendered by real headless Chromium: the figures it
    shows are the report's and those of GraphQL."""
    shots = tmp_path_factory.mktemp("screenshots")
    centre = chromium(stack.page("/departments/GD-GRID/2017"), shots / "profile",
                      shots / "centre.png")  # fmt: skip
    assert "昆明市网格化监督指挥中心官渡分中心" in text_by_id(centre, "title")
    figures = {
        i: text_by_id(centre, i) for i in ("score", "grade", "execution-rate", "closure-rate")
    }
    assert figures == {
        "score": "78.25",
        "grade": "优",
        "execution-rate": "100.00 %",
        "closure-rate": "96.73 %",
    }
    assert "30.51 %" in centre and "69.49 %" in centre  # basic / project split
    assert "19,524" in centre and "932" in centre and "18,592" in centre  # advance disposals
    assert centre.count("<polyline") == 3  # arrival, execution and closure curves
    assert "&gt;= 10000 条" in centre  # a target value as published, never "1E+4"

    bureau = chromium(
        stack.page("/departments/GD-CGJ/2017?asOf=2017-08-31"),
        shots / "profile",
        shots / "bureau-2017-08-31.png",
    )
    data = await stack.query(
        """{ lineEvaluation(lineId: "GD-CGJ-2017-ZHGD", asOf: "2017-08-31") {
               arrivalRate executionRate spentOfArrivedRate score grade } }""",
    )
    line = data["lineEvaluation"]
    for rate in ("arrivalRate", "executionRate", "spentOfArrivedRate"):
        shown = f"{float(line[rate]) * 100:.2f} %"
        assert shown in bureau, (rate, shown)
    assert ["73.03 %", "10.59 %", "14.50 %"] == [
        f"{float(line[r]) * 100:.2f} %"
        for r in ("arrivalRate", "executionRate", "spentOfArrivedRate")
    ]
    assert f"合计（等级 {line['grade']}）" in bureau and line["score"] in bureau
    print(f"screenshots: {shots}")

    missing = chromium(stack.page("/departments/NOPE/2017"), shots / "profile")
    assert "unknown department 'NOPE'" in text_by_id(missing, "error")

    # the evaluator's printed link opens the bureau's page; the centre's is not theirs
    evaluator = chromium(stack.evaluator_link, shots / "evaluator")
    assert "官渡区城市管理综合行政执法局" in text_by_id(evaluator, "title")
    headers = {"authorization": f"Bearer {stack.token_of(stack.evaluator_link)}"}
    refused = httpx.get(f"{stack.base}/departments/GD-GRID/2017", headers=headers, timeout=30)
    assert refused.status_code == 403
    assert httpx.get(f"{stack.base}/departments/GD-GRID/2017", timeout=30).status_code == 401


ASSESSMENT = """
query($month: Int) {
  assessment(department: "GD-GRID", fiscalYear: 2017, month: $month) {
    period asOf scheme { effectiveMonth indicators { metric name weight } }
    total { due closed open overdue }
    assignees { assignee name rank score previousScore rankChange
                indicators { rate points }
                cases { dispatched due dueClosed closedOnTime onTimeRate closureRateDue open
                        overdue overdueByAge { upTo3 from4To10 from11To30 over30 } } }
  }
}
"""


def percent(rate: str | None) -> str:
    return "—" if rate is None else f"{Decimal(rate) * 100:.2f} %"


async def test_the_monthly_bulletin_page_and_csv_agree_with_graphql(
    stack: Demo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The bulletin (通报) of September and the year-end review, rendered by headless
    Chromium and downloaded as CSV: the same ranked rows as GraphQL."""
    shots = tmp_path_factory.mktemp("bulletin")
    for month, path in ((9, "assessment/9"), (None, "assessment")):
        data = (await stack.query(ASSESSMENT, month=month))["assessment"]
        codes = [a["assignee"] for a in data["assignees"]]
        # the 8 streets and 4 bureaus of the demo, all assessed, best first
        assert sorted(codes) == sorted(code for code, *_ in STREETS + FUNCTIONAL)
        ranks = [a["rank"] for a in data["assignees"]]
        assert ranks == sorted(ranks) and ranks[0] == 1 and None not in ranks
        # from July the centre weights on-time closure 60 / closure 40 (AssessmentSchemeSet)
        weights = [(i["metric"], i["weight"]) for i in data["scheme"]["indicators"]]
        assert weights == [("on_time_rate", "60"), ("closure_rate_due", "40")]
        for a in data["assignees"]:
            on_time, closure = (Decimal(i["rate"]) for i in a["indicators"])
            assert Decimal(a["score"]) == sum(Decimal(i["points"]) for i in a["indicators"])
            assert Decimal(a["indicators"][0]["points"]) == (60 * on_time).quantize(Decimal("0.01"))
            assert a["indicators"][0]["rate"] == a["cases"]["onTimeRate"]
        # realistic differences: the slowest street is well behind the fastest
        scores = [Decimal(a["score"]) for a in data["assignees"]]
        assert scores[0] - scores[-1] > 10

        page = chromium(stack.page(f"/departments/GD-GRID/2017/{path}"), shots / "profile",
                        shots / f"{path.replace('/', '-')}.png")  # fmt: skip
        table = table_rows(page, "bulletin")
        response = httpx.get(f"{stack.base}/departments/GD-GRID/2017/{path}.csv", timeout=30,
                             headers={"authorization": f"Bearer {stack.token}"})  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")  # BOM: spreadsheet programs read the headers right
        exported = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
        header, *rows, total = table
        # the CSV has the page's rows, its figures as plain numbers (rates in per cent)
        assert exported[0] == [f"{h}（%）" if h in ("结案率", "按期结案率") else h for h in header]
        assert len(exported) == len(table) and exported[-1][0] == "合计"
        assert header[:4] == ["排名", "单位代码", "单位", "得分"]
        column = {name: i for i, name in enumerate(header)}
        for row, a in zip(rows, data["assignees"], strict=True):
            c = a["cases"]
            shown = {
                name: row[column[name]]
                for name in (
                    "排名",
                    "单位代码",
                    "单位",
                    "得分",
                    "应结案",
                    "按期结案",
                    "结案率",
                    "按期结案率",
                    "积压",
                    "超期",
                    "超期>30天",
                )
            }
            assert shown == {
                "排名": str(a["rank"]), "单位代码": a["assignee"], "单位": a["name"],
                "得分": a["score"], "应结案": f"{c['due']:,}", "按期结案": f"{c['closedOnTime']:,}",
                "结案率": percent(c["closureRateDue"]), "按期结案率": percent(c["onTimeRate"]),
                "积压": f"{c['open']:,}", "超期": f"{c['overdue']:,}",
                "超期>30天": f"{c['overdueByAge']['over30']:,}",
            }  # fmt: skip
        for row, a in zip(exported[1:-1], data["assignees"], strict=True):
            c, cell = a["cases"], dict(zip(exported[0], row, strict=True))
            assert (cell["单位代码"], cell["得分"], cell["应结案"], cell["积压"]) == (
                a["assignee"], a["score"], str(c["due"]), str(c["open"]))  # fmt: skip
            assert cell["结案率（%）"] == f"{Decimal(c['closureRateDue']) * 100:.2f}"
            assert cell["按期结案率（%）"] == f"{Decimal(c['onTimeRate']) * 100:.2f}"
        assert total[0] == "合计" and total[column["应结案"]] == f"{data['total']['due']:,}"
        assert exported[-1][column["应结案"]] == str(data["total"]["due"])
        assert "按期结案率 60 分，结案率 40 分" in text_by_id(page, "scheme")

    # the year's figures add up over the months, and the backlog is the year-end one
    months = [(await stack.query(ASSESSMENT, month=m))["assessment"] for m in range(1, 13)]
    assert sum(m["total"]["closed"] for m in months) == data["total"]["closed"]
    assert months[-1]["total"]["open"] == data["total"]["open"]
    assert months[0]["scheme"]["effectiveMonth"] == 1  # 50 / 50 from January
    assert months[7]["assignees"][0]["previousScore"] is not None  # compared with July


async def test_year_over_year(stack: Demo, tmp_path_factory: pytest.TempPathFactory) -> None:
    data = await stack.query(
        """{ departmentEvaluation(department: "GD-GRID", fiscalYear: 2017) {
               previousYear { fiscalYear cases { accepted closed closureRate } }
               yearOverYear { metric current previous change changeRate } } }""",
    )
    evaluation = data["departmentEvaluation"]
    assert evaluation["previousYear"] == {
        "fiscalYear": 2016,
        "cases": {"accepted": 96000, "closed": 90432, "closureRate": "0.9420"},
    }
    changes = {c["metric"]: c for c in evaluation["yearOverYear"]}
    # "“三公”经费预算0.5万元, 决算数0.37万元, 比2016年有所减少" (2016: invented)
    assert changes["sangong_spent"] == {
        "metric": "sangong_spent", "current": "3700.00", "previous": "4400.00",
        "change": "-700.00", "changeRate": "-0.1591",
    }  # fmt: skip
    assert (changes["sangong_control_rate"]["current"], changes["closure_rate"]["change"]) == (
        "0.7400",
        "0.0253",
    )
    shots = tmp_path_factory.mktemp("year-over-year")
    page = chromium(stack.page("/departments/GD-GRID/2017"), shots)
    rows = {row[0]: row[1:] for row in table_rows(page, "year-over-year")}
    assert rows["“三公”经费支出（万元）"] == ["0.37", "0.44", "-0.07", "-15.91 %"]
    assert rows["结案率"] == ["96.73 %", "94.20 %", "+2.53 个百分点", "—"]


SELF_EVALUATION = """
query($line: String, $department: String, $asOf: Date) {
  selfEvaluation(fiscalYear: 2017, lineId: $line, department: $department, asOf: $asOf) {
    title department implementingUnits
    funds { initialBudget adjustedBudget executed executionRate score
            bySource { source initialBudget adjustedBudget executed } }
    indicators { name actual weight score } total grade
  }
}
"""


async def test_the_self_evaluation_tables_on_screen_in_excel_and_on_paper(stack: Demo) -> None:
    """The seed's project line as of 31 August and the centre's whole year as the national
    tables: GraphQL, the page in Chromium (screenshot), the .xlsx and the PDF (turned into an
    image by pdftoppm); the screenshot and the images are kept in ARTIFACTS."""
    project = (await stack.query(SELF_EVALUATION, line="GD-CGJ-2017-ZHGD", asOf="2017-08-31"))[
        "selfEvaluation"
    ]
    assert project["title"] == "官渡区智慧官渡—网格化运行"
    assert project["department"] == "官渡区城市管理综合行政执法局"
    assert project["implementingUnits"] == ["官渡区数字化城市管理办公室", "官渡区综合行政执法大队"]
    funds = project["funds"]
    # "安排预算资金3689.01万元", "实际支出 ... 占预算36890100.00元的10.59%"; 10 × 0.1059
    assert (funds["adjustedBudget"], funds["executed"], funds["executionRate"], funds["score"]) == (
        "36890100.00", "3907946.12", "0.1059", "1.06"
    )  # fmt: skip
    assert [s["source"] for s in funds["bySource"]] == ["appropriation"]  # "经费来源为财政拨款"
    # 1.06 + 7.30 (arrival 73.03 % of 100 %) + 1.18 (execution 10.59 % of 90 %) of 30 points
    assert (project["total"], project["grade"]) == ("9.54", "差")
    centre = (await stack.query(SELF_EVALUATION, department="GD-GRID"))["selfEvaluation"]
    assert centre["funds"]["executionRate"] == "1.0000"  # "支出预算执行率100%"
    assert (centre["funds"]["score"], centre["total"], centre["grade"]) == ("10.00", "88.25", "优")

    ARTIFACTS.mkdir(exist_ok=True)
    path = "/lines/GD-CGJ-2017-ZHGD/2017?asOf=2017-08-31"
    page = chromium(stack.page(path), ARTIFACTS / "profile", ARTIFACTS / "self-evaluation.png")
    rows = table_rows(page, "self-evaluation")
    cells = [cell for row in rows for cell in row]
    shown_on_page = ("3,689.01", "390.79", "10.59%", "1.06", "73.03%", "9.54", "等级：差")
    for shown in (*shown_on_page, "其中：财政拨款"):
        assert shown in cells, shown

    headers = {"authorization": f"Bearer {stack.token}"}
    base = f"{stack.base}/lines/GD-CGJ-2017-ZHGD/2017/self-evaluation"
    xlsx = httpx.get(f"{base}.xlsx?asOf=2017-08-31", headers=headers, timeout=60)
    ws = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert {3689.01, 390.79, 0.1059, 1.06, 9.54, "资金到位率", "预算执行率"} <= set(values)
    pdf = httpx.get(f"{base}.pdf?asOf=2017-08-31", headers=headers, timeout=120)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    (ARTIFACTS / "self-evaluation.pdf").write_bytes(pdf.content)
    image = ARTIFACTS / "self-evaluation-pdf"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(ARTIFACTS /
                    "self-evaluation.pdf"), str(image)], check=True, timeout=60)  # fmt: skip
    assert image.with_suffix(".png").stat().st_size > 10_000  # a page with something on it
    text = subprocess.run(["pdftotext", str(ARTIFACTS / "self-evaluation.pdf"), "-"],
                          check=True, capture_output=True, text=True).stdout  # fmt: skip
    assert "项目支出绩效自评表" in text and "3,689.01" in text
    print(f"artefacts: {ARTIFACTS.resolve()}")


async def test_now_counts_the_backlog_of_a_past_year_as_overdue(stack: Demo) -> None:
    data = await stack.query(
        """{ departmentEvaluation(department: "GD-GRID", fiscalYear: 2017) {
               cases { accepted closed open overdue } } }"""
    )
    cases = data["departmentEvaluation"]["cases"]
    # every case is filed but the advance disposals, which are closed: all of 2017's
    # deadlines have passed, so the whole backlog is overdue (it showed 0)
    assert cases["open"] == cases["accepted"] - cases["closed"] == 14_761
    assert cases["overdue"] == cases["open"]
