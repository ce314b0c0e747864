"""The evaluation page: ``/departments/<code>/<year>[?asOf=YYYY-MM-DD]``.

It asks the GraphQL schema (the same query an evaluator could send), so the page and the API
cannot disagree; it renders a printable HTML report with inline SVG charts, no JavaScript.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from services.reporting.schema import Context, schema

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
             byAssignee {{ assignee {CASES} }} }}
    {SCORED}
    monthly {{ month arrivedInMonth spentInMonth acceptedInMonth closedInMonth arrived spent
               arrivalRate executionRate accepted closed closureRate }}
    lines {{ lineId title category {BUDGET} {SCORED} }}
  }}
}}
"""


def percent(rate: str | None) -> str:
    """'0.7303' -> '73.03 %'; a missing rate (zero denominator) -> '—'."""
    return "—" if rate is None else f"{Decimal(rate) * 100:.2f} %"


def money(amount: str) -> str:
    """'36890100.00' -> '36,890,100.00' (yuan, exact)."""
    return f"{Decimal(amount):,.2f}"


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
templates.filters.update(percent=percent, money=money, curve=curve)


async def evaluation_page(request: Request) -> HTMLResponse:
    variables: dict[str, Any] = {
        "department": request.path_params["code"],
        "fiscalYear": request.path_params["year"],
        "asOf": request.query_params.get("asOf"),
    }
    if variables["asOf"]:
        try:
            date.fromisoformat(variables["asOf"])
        except ValueError:
            return _error(400, f"asOf {variables['asOf']!r} is not a date (YYYY-MM-DD)")
    result = await schema.execute(
        QUERY, variable_values=variables, context_value=Context(request.app.state.pool)
    )
    if result.errors:
        return _error(404, "; ".join(error.message for error in result.errors))
    assert result.data is not None
    html = templates.get_template("evaluation.html").render(e=result.data["departmentEvaluation"])
    return HTMLResponse(html)


def _error(status: int, message: str) -> HTMLResponse:
    html = templates.get_template("error.html").render(message=message)
    return HTMLResponse(html, status_code=status)
