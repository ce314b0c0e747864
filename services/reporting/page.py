"""The evaluation page ``/departments/<code>/<year>[?asOf=YYYY-MM-DD]`` and the assessment
bulletin (通报) ``/departments/<code>/<year>/assessment[/<month>][.csv][?asOf=YYYY-MM-DD]``.

They ask the GraphQL schema (the same queries an evaluator could send), so the pages and the
API cannot disagree; they render printable HTML with inline SVG charts, no JavaScript. The
bulletin's CSV carries exactly the rows of its table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from services.reporting import form, names
from services.reporting.evidence import page_href
from services.reporting.exports import neutralised
from services.reporting.schema import Context

CASES = """reported accepted filed dispatched disposed closed closedOnTime due open overdue
           advanceDisposals filingRate dispatchRate disposalRate closureRate closureRateDue
           onTimeRate"""
BUDGET = """initialBudget adjustedBudget arrived transferred spent balance arrivalRate
            executionRate spentOfArrivedRate sangongBudget sangongSpent sangongControlRate"""
SCORED = """outputs { indicator quantity unit }
            indicators { targetId level1 level2 name metric comparator value unit actual
                         weight score }
            score grade"""
QUERY = f"""
query($department: String!, $fiscalYear: Int!, $asOf: Date) {{
  departmentEvaluation(department: $department, fiscalYear: $fiscalYear, asOf: $asOf) {{
    department name fiscalYear asOf headcountAuthorised headcountActual
    budget {{ {BUDGET} byCategory {{ category spent share }}
              byEconomicClass {{ economicClass spent share }} }}
    procurement {{ planned contracted procurementExecutionRate }}
    cases {{ {CASES} byChannel {{ channel {CASES} }} byKind {{ kind {CASES} }}
             byAssignee {{ assignee name {CASES} }} }}
    {SCORED}
    monthly {{ month arrivedInMonth spentInMonth acceptedInMonth closedInMonth arrived spent
               arrivalRate executionRate accepted closed closureRate }}
    lines {{ lineId title category {BUDGET} {SCORED} }}
    yearOverYear {{ metric current previous change changeRate }}
  }}
}}
"""
# the metrics the evaluation page compares with the previous year: label, how to show it
COMPARED = {
    "adjusted_budget": ("调整后预算（万元）", "money"),
    "spent": ("实际支出（万元）", "money"),
    "execution_rate": ("预算执行率", "rate"),
    "sangong_spent": ("“三公”经费支出（万元）", "money"),
    "sangong_control_rate": ("“三公”控制率", "rate"),
    "accepted": ("受理案件", "count"),
    "closed": ("结案", "count"),
    "closure_rate": ("结案率", "rate"),
    "on_time_rate": ("按期结案率", "rate"),
    "score": ("自评得分", "count"),
}
AGES = ("upTo3", "from4To10", "from11To30", "over30")
ASSESSMENT_QUERY = f"""
query($department: String!, $fiscalYear: Int!, $month: Int, $asOf: Date) {{
  assessment(department: $department, fiscalYear: $fiscalYear, month: $month, asOf: $asOf) {{
    department name fiscalYear month period start asOf previousPeriod note
    scheme {{ effectiveMonth document indicators {{ metric name weight }} }}
    total {{ dispatched disposed closed due dueClosed closedOnTime open overdue closureRateDue
             onTimeRate overdueByAge {{ {" ".join(AGES)} }} }}
    assignees {{
      assignee name score rank previousScore previousRank scoreChange rankChange
      indicators {{ metric rate points }}
      cases {{ dispatched disposed closed due dueClosed closedOnTime open overdue closureRateDue
               onTimeRate overdueByAge {{ {" ".join(AGES)} }} }}
    }}
  }}
}}
"""


def percent(rate: str | None) -> str:
    """'0.7303' -> '73.03 %'; a missing rate (zero denominator) -> '—'."""
    return "—" if rate is None else f"{Decimal(rate) * 100:.2f} %"


def wan(amount: str | None) -> str:
    """Yuan shown in 万元 to two places, half-up from the exact yuan, with thousands
    separators: '36890100.00' -> '3,689.01'; None -> '—'."""
    return "—" if amount is None else f"{form.wan(amount):,}"


def count(value: int | str | None) -> str:
    """A count with thousands separators: 452034 -> '452,034'; None -> '—'."""
    return "—" if value is None else f"{int(value):,}"


def shown(value: str | None, kind: str, change: bool = False) -> str:
    """A compared metric as the page shows it: money, a rate (its change in points) or a
    plain number."""
    if kind == "money":
        return wan(value)
    if kind == "rate":
        return points(value) if change else percent(value)
    if kind == "count" and value is not None and "." not in value:
        return count(value)
    return "—" if value is None else value


def points(change: str | None) -> str:
    """A change of rate, '0.0173' -> '+1.73 个百分点'."""
    return "—" if change is None else f"{Decimal(change) * 100:+.2f} 个百分点"


def curve(points: list[str | None], width: int = 560, height: int = 160) -> str:
    """SVG polyline points of rates (0..1) spread over twelve months."""
    step = width / 11
    return " ".join(
        f"{i * step:.1f},{height - float(rate) * height:.1f}"
        for i, rate in enumerate(points)
        if rate is not None
    )


templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
)
templates.filters.update(
    percent=percent, wan=wan, count=count, curve=curve, shown=shown,
    economic_class=names.economic_class, channel=lambda c: names.named(c, names.CHANNELS),
    kind=lambda c: names.named(c, names.CASE_KINDS),
    category=lambda c: names.named(c, names.CATEGORIES),
)  # fmt: skip


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _answer(request: Request, query: str, **variables: Any) -> dict[str, Any]:
    """The data of a GraphQL query for a page, asOf taken from the query string."""
    as_of = request.query_params.get("asOf")
    if as_of:
        try:
            date.fromisoformat(as_of)
        except ValueError:
            raise PageError(400, f"asOf {as_of!r} is not a date (YYYY-MM-DD)") from None
    result = await request.app.state.schema.execute(
        query,
        variable_values={**variables, "asOf": as_of or None},
        context_value=Context.of(request),
    )
    if result.errors:
        codes = {(error.extensions or {}).get("code") for error in result.errors}
        status = 403 if "FORBIDDEN" in codes else 500 if "INTERNAL_SERVER_ERROR" in codes else 404
        raise PageError(status, "; ".join(error.message for error in result.errors))
    assert result.data is not None
    return result.data


def error_page(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    html = templates.get_template("error.html").render(status=status, message=message)
    return HTMLResponse(html, status_code=status, headers=headers)


def _page(handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
    async def page(request: Request) -> Response:
        try:
            return await handler(request)
        except PageError as error:
            return error_page(error.status, str(error))

    return page


@_page
async def evaluation_page(request: Request) -> Response:
    data = await _answer(
        request,
        QUERY,
        department=request.path_params["code"],
        fiscalYear=request.path_params["year"],
    )
    return HTMLResponse(
        evaluation_html(data["departmentEvaluation"], request.query_params.get("asOf"))
    )


def evaluation_html(e: dict[str, Any], as_of: str | None) -> str:
    """The evaluation page of a departmentEvaluation answer; each figure links to its events."""
    evidence = partial(page_href, e["department"], e["fiscalYear"], as_of)
    return templates.get_template("evaluation.html").render(
        e=e, compared=COMPARED, evidence=evidence
    )


def bulletin_rows(a: dict[str, Any], plain: bool = False) -> tuple[list[str], list[list[str]]]:
    """The bulletin's table (headers, rows): ranked assignees, the unassessed, the total.
    For the page, counts carry thousands separators and rates are shown '99.22 %'; for the
    CSV (plain=True) every figure is a plain number (rates as per cent, headers say （%）)."""
    indicators = a["scheme"]["indicators"]
    pct = "（%）" if plain else ""
    headers = [
        "排名", "单位代码", "单位", "得分", "上期得分", "得分变化", "名次变化",
        *(f"{i['name'] or i['metric']}得分（{i['weight']}）" for i in indicators),
        "派遣", "处置", "结案", "应结案", "应结案已结", "按期结案", f"结案率{pct}",
        f"按期结案率{pct}", "积压", "超期", "超期≤3天", "超期4–10天", "超期11–30天", "超期>30天",
    ]  # fmt: skip
    blank = "" if plain else "—"
    shown_count = str if plain else count

    def rate(value: str | None) -> str:
        if value is None:
            return blank
        return f"{Decimal(value) * 100:.2f}" if plain else percent(value)

    def figures(c: dict[str, Any]) -> list[str]:
        counts = ("dispatched", "disposed", "closed", "due", "dueClosed", "closedOnTime")
        return [
            *(shown_count(c[k]) for k in counts),
            rate(c["closureRateDue"]),
            rate(c["onTimeRate"]),
            shown_count(c["open"]),
            shown_count(c["overdue"]),
            *(shown_count(c["overdueByAge"][age]) for age in AGES),
        ]

    def moved(change: int | None) -> str:
        if change is None:
            return blank
        if plain:
            return str(change)
        return f"↑{change}" if change > 0 else f"↓{-change}" if change < 0 else "0"

    rows = []
    for r in a["assignees"]:
        change = r["scoreChange"]
        rows.append([
            "未考核" if r["rank"] is None else str(r["rank"]),
            r["assignee"],
            r["name"] or "",
            r["score"] or blank,
            r["previousScore"] or blank,
            blank if change is None else f"{Decimal(change):{'' if plain else '+'}.2f}",
            moved(r["rankChange"]),
            *(i["points"] or blank for i in r["indicators"]),
            *figures(r["cases"]),
        ])  # fmt: skip
    rows.append(["合计", "", "", "", "", "", "", *("" for _ in indicators), *figures(a["total"])])
    return headers, rows


async def _assessment(request: Request) -> dict[str, Any]:
    data = await _answer(
        request,
        ASSESSMENT_QUERY,
        department=request.path_params["code"],
        fiscalYear=request.path_params["year"],
        month=request.path_params.get("month"),
    )
    return data["assessment"]  # type: ignore[no-any-return]


@_page
async def assessment_page(request: Request) -> Response:
    a = await _assessment(request)
    headers, rows = bulletin_rows(a)
    csv_href = request.url.path + ".csv" + (f"?{request.url.query}" if request.url.query else "")
    html = templates.get_template("assessment.html").render(
        a=a, headers=headers, rows=rows, csv_href=csv_href
    )
    return HTMLResponse(html)


@_page
async def assessment_csv(request: Request) -> Response:
    a = await _assessment(request)
    headers, rows = bulletin_rows(a, plain=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([neutralised(cell) for cell in row] for row in rows)
    name = f"assessment-{a['department']}-{a['period']}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # the BOM tells spreadsheet programs it is UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
