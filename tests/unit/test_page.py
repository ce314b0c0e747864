"""The pages' formatting and templates, rendered from sample GraphQL answers (no gateway)."""

from __future__ import annotations

import re
from typing import Any

from services.reporting import page
from services.reporting.exports import neutralised

CASES: dict[str, Any] = {
    "reported": 452034, "accepted": 452034, "filed": 400000, "dispatched": 399000,
    "disposed": 390000, "closed": 437273, "closedOnTime": 380000, "due": 398000, "open": 14761,
    "overdue": 1200, "advanceDisposals": 19524, "filingRate": "0.8849", "dispatchRate": "0.9975",
    "disposalRate": "0.9774", "closureRate": "0.9673", "closureRateDue": "0.9922",
    "onTimeRate": "0.9548",
}  # fmt: skip
BUDGET = {
    "initialBudget": "36890100.00", "adjustedBudget": "36890100.00", "arrived": "26942600.00",
    "transferred": "26942600.00", "spent": "3907946.12", "balance": "32982153.88",
    "arrivalRate": "0.7303", "executionRate": "0.1059", "spentOfArrivedRate": "0.1450",
    "sangongBudget": "5000.00", "sangongSpent": "3700.00", "sangongControlRate": "0.7400",
}  # fmt: skip
SCORED: dict[str, Any] = {"outputs": [], "indicators": [], "score": None, "grade": None}


def evaluation() -> dict[str, Any]:
    month = {
        "arrivedInMonth": "1000000.00", "spentInMonth": "300000.00", "acceptedInMonth": 37669,
        "closedInMonth": 36439, "arrived": "0", "spent": "0", "arrivalRate": "0.5000",
        "executionRate": "0.5000", "accepted": 0, "closed": 0, "closureRate": "0.9673",
    }  # fmt: skip
    return {
        "department": "GD-GRID", "name": "官渡分中心", "fiscalYear": 2017, "asOf": None,
        "headcountAuthorised": 1200, "headcountActual": 1178,
        "budget": {**BUDGET, "byCategory": [{"category": "project", "spent": "2936700.00",
                                              "share": "0.6949"}],
                   "byEconomicClass": [{"economicClass": "302", "spent": "2936700.00",
                                        "share": "0.6949"}]},
        "procurement": {"planned": "1000000.00", "contracted": "900000.00",
                        "procurementExecutionRate": "0.9000"},
        "cases": {**CASES, "byChannel": [{**CASES, "channel": "public_hotline"}],
                  "byKind": [{**CASES, "kind": "component"}],
                  "byAssignee": [{**CASES, "assignee": "GD-JD01", "name": "东风街道办事处"},
                                 {**CASES, "assignee": "GD-X", "name": None}]},
        **SCORED,
        "monthly": [{**month, "month": m} for m in range(1, 13)],
        "lines": [
            {"lineId": "L-BASIC", "title": "基本支出线", "category": "basic", **BUDGET, **SCORED},
            {"lineId": "L-PROJ", "title": "网格化运行", "category": "project", **BUDGET, **SCORED},
        ],
        "yearOverYear": [{"metric": "sangong_spent", "current": "3700.00",
                          "previous": "4400.00", "change": "-700.00", "changeRate": "-0.1591"},
                         {"metric": "accepted", "current": "452034", "previous": "96000",
                          "change": "356034", "changeRate": "3.7087"}],
    }  # fmt: skip


def render(as_of: str | None = None) -> str:
    return page.evaluation_html(evaluation(), as_of)


def test_formatters() -> None:
    assert page.count(452034) == "452,034"
    assert page.count(None) == "—"
    assert page.wan("36890100.00") == "3,689.01"
    assert page.wan("3907946.12") == "390.79"
    assert page.wan("50.00") == "0.01"  # half-up: 0.005 万元 -> 0.01
    assert page.wan("49.99") == "0.00"
    assert page.wan("-7000.00") == "-0.70"
    assert page.wan(None) == "—"
    assert page.percent("0.9673") == "96.73 %"


def test_counts_and_money_are_formatted() -> None:
    html = render()
    for shown in ("452,034", "437,273", "19,524", "37,669", "3,689.01", "390.79", "1,178"):
        assert shown in html, shown
    assert "452034" not in html and "36890100" not in html and "36,890,100.00" not in html
    assert "（万元）" in html and "（元）" not in html
    assert "0.37" in html and "0.44" in html  # “三公” year over year, in 万元


def test_no_numeric_cell_can_wrap() -> None:
    html = render()
    css = page.templates.get_template("base.html").render()
    assert re.search(r"td\.n[^{]*\{[^}]*white-space: nowrap", css)
    assert re.search(r"\.card b[^{]*\{[^}]*white-space: nowrap", css)
    linked = r"(?:<a [^>]*>)?"  # a figure may be linked to its evidence
    cells = re.findall(rf"<td([^>]*)>{linked}([^<]*%)(?:</a>)?</td>", html)
    assert len(cells) > 20
    for cell in cells:
        assert 'class="n' in cell[0], cell  # every rate sits in a nowrap cell
    cards = re.findall(rf"<b[^>]*>{linked}([^<]*)(?:</a>)?</b>", html)
    assert len(cards) == 5
    for card in cards:
        assert "\n" not in card


def test_every_figure_links_to_its_evidence() -> None:
    html = render(as_of="2017-08-31")
    links = re.findall(r'<a class="ev" href="([^"]+)">([^<]*)</a>', html)
    base = "/departments/GD-GRID/2017/evidence/"
    assert (f"{base}spent?asOf=2017-08-31", "390.79") in links
    assert (f"{base}accepted?asOf=2017-08-31", "452,034") in links
    assert (f"{base}closureRate?asOf=2017-08-31", "96.73 %") in links
    assert f"{base}spent?asOf=2017-08-31&amp;lineId=L-PROJ" in {href for href, _ in links}
    metrics = {href.split("/")[-1].split("?")[0] for href, _ in links}
    assert {"initialBudget", "balance", "planned", "closedOnTime", "overdue"} <= metrics
    assert '/evidence/spent"' in render()  # without asOf: now


def test_names_instead_of_codes() -> None:
    html = render()
    for shown in ("302 商品和服务支出", "公众举报投诉", "部件", "项目支出", "承办 东风街道办事处"):
        assert shown in html, shown
    assert "承办 GD-X" in html  # unregistered: the code


def test_only_project_lines_are_listed() -> None:
    html = render()
    assert 'id="line-L-PROJ"' in html and 'id="line-L-BASIC"' not in html


def test_chart_has_axes_months_legend_and_distinct_curves() -> None:
    html = render()
    svg = html[html.index('<svg id="curves"') : html.index("</svg>")]
    for m in range(1, 13):
        assert f">{m}月</text>" in svg
    for pct in ("0%", "50%", "100%"):
        assert f">{pct}</text>" in svg
    assert 'class="legend"' in svg and "资金到位率" in svg and "预算执行率" in svg
    lines = re.findall(r"<polyline([^>]*)>", svg)
    assert len(lines) == 3
    styles = [
        tuple(re.search(rf'{a}="([^"]*)"', p).group(1) if f'{a}="' in p else ""  # type: ignore[union-attr]
              for a in ("stroke", "stroke-dasharray", "marker-mid", "stroke-width"))
        for p in lines
    ]  # fmt: skip
    for attribute in range(4):  # colour, dash, marker and width all differ
        assert len({s[attribute] for s in styles}) == 3
    # equal rates give equal points, yet the wide lower curve shows under the dashed one
    points = [re.search(r'points="([^"]*)"', p).group(1) for p in lines]  # type: ignore[union-attr]
    assert points[0] == points[1] and float(styles[0][3]) > float(styles[1][3])
    assert "<script" not in html


ASSESSMENT: dict[str, Any] = {
    "department": "GD-GRID", "name": "官渡分中心", "fiscalYear": 2017, "month": 9,
    "period": "2017-09", "start": "2017-09-01", "asOf": "2017-09-30",
    "previousPeriod": "2017-08", "note": None,
    "scheme": {"effectiveMonth": 7, "document": None, "indicators": [
        {"metric": "on_time_rate", "name": "按期结案率", "weight": "60"}]},
    "total": {"dispatched": 12345, "disposed": 1, "closed": 1, "due": 23456, "dueClosed": 1,
              "closedOnTime": 1, "open": 1, "overdue": 1, "closureRateDue": "0.9922",
              "onTimeRate": None,
              "overdueByAge": {"upTo3": 1, "from4To10": 0, "from11To30": 0, "over30": 1000}},
}  # fmt: skip
ROW = {
    "assignee": "GD-JD01", "name": "=东风", "score": "57.29", "rank": 1, "previousScore": None,
    "previousRank": None, "scoreChange": "-1.50", "rankChange": -2,
    "indicators": [{"metric": "on_time_rate", "rate": "0.9548", "points": "57.29"}],
    "cases": ASSESSMENT["total"],
}  # fmt: skip


def test_bulletin_page_and_csv_rows() -> None:
    a = {**ASSESSMENT, "assignees": [ROW]}
    headers, rows = page.bulletin_rows(a)
    assert "12,345" in rows[0] and "99.22 %" in rows[0] and "↓2" in rows[0] and "-1.50" in rows[0]
    headers, rows = page.bulletin_rows(a, plain=True)
    assert "结案率（%）" in headers and "按期结案率（%）" in headers
    row = rows[0]
    assert row[headers.index("结案率（%）")] == "99.22"
    assert row[headers.index("按期结案率（%）")] == ""
    assert row[headers.index("派遣")] == "12345"
    assert row[headers.index("名次变化")] == "-2" and row[headers.index("得分变化")] == "-1.50"
    for cell in row[3:]:
        assert cell == "" or float(cell) is not None  # every figure reads as a number
    assert [neutralised(c) for c in row][2] == "'=东风"  # text still neutralised
    assert neutralised("-1.50") == "-1.50"


def test_bulletin_note_is_shown() -> None:
    a = {**ASSESSMENT, "assignees": [], "note": "截至 2017-09-30，本平台没有案件派遣给任何承办单位"}
    headers, rows = page.bulletin_rows(a)
    html = page.templates.get_template("assessment.html").render(
        a=a, headers=headers, rows=rows, csv_href="x.csv"
    )
    assert 'id="note"' in html and "没有案件派遣" in html


def test_error_page_is_chinese() -> None:
    response = page.error_page(404, "unknown department 'NOPE'")
    html = bytes(response.body).decode()
    assert "页面或数据不存在" in html and "unknown department &#39;NOPE&#39;" in html
    assert 'id="error"' in html and "<script" not in html and "javascript:" not in html
