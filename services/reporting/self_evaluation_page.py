"""The self-evaluation table as a printable page, an .xlsx workbook and a PDF:
``/lines/<lineId>/<year>[/self-evaluation]`` (项目支出绩效自评表) and
``/departments/<code>/<year>/self-evaluation`` (部门整体支出绩效自评表), each also at
``.xlsx`` and ``.pdf``; ``?asOf=YYYY-MM-DD``, and for a department ``?includeSubunits=1``.

Like the other pages they ask the GraphQL schema (selfEvaluation); the page and the workbook
are drawn from one layout (form.py), the PDF is the page printed by WeasyPrint.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from weasyprint import HTML

from services.reporting.form import WIDTHS, footer, layout
from services.reporting.form_xlsx import workbook
from services.reporting.page import _answer, _page, templates

QUERY = """
query($fiscalYear: Int!, $lineId: String, $department: String, $asOf: Date,
      $includeSubunits: Boolean! = false) {
  selfEvaluation(fiscalYear: $fiscalYear, lineId: $lineId, department: $department,
                 asOf: $asOf, includeSubunits: $includeSubunits) {
    kind fiscalYear asOf lastDay title lineId departmentCode department implementingUnits
    funds { initialBudget adjustedBudget executed executionRate weight score
            bySource { source sourceName initialBudget adjustedBudget executed } }
    indicators { targetId level1 level2 name metric comparator value unit actual weight score
                 deviationNote }
    goal { expected actual }
    total grade projectionDigest
  }
}
"""
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _table(request: Request) -> dict[str, Any]:
    params = request.path_params
    if "line" in params:
        asked: dict[str, Any] = {"lineId": params["line"]}
    else:
        subunits = request.query_params.get("includeSubunits", "") in ("1", "true")
        asked = {"department": params["code"], "includeSubunits": subunits}
    data = await _answer(request, QUERY, fiscalYear=params["year"], **asked)
    return data["selfEvaluation"]  # type: ignore[no-any-return]


def _html(request: Request, t: dict[str, Any]) -> str:
    base = re.sub(r"(/self-evaluation)?(\.(xlsx|pdf))?$", "", request.url.path)
    base += "/self-evaluation"
    query = f"?{request.url.query}" if request.url.query else ""
    return templates.get_template("self_evaluation.html").render(
        t=t,
        rows=layout(t),
        widths=WIDTHS,
        footer=footer(t, t["projectionDigest"]),
        xlsx=f"{base}.xlsx{query}",
        pdf=f"{base}.pdf{query}",
    )


def _attachment(t: dict[str, Any], suffix: str) -> dict[str, str]:
    subject = re.sub(r"[^A-Za-z0-9._-]", "_", t["lineId"] or t["departmentCode"])
    name = f"self-evaluation-{subject}-{t['fiscalYear']}.{suffix}"
    return {"content-disposition": f'attachment; filename="{name}"'}


@_page
async def self_evaluation_page(request: Request) -> Response:
    return HTMLResponse(_html(request, await _table(request)))


@_page
async def self_evaluation_xlsx(request: Request) -> Response:
    t = await _table(request)
    sheet = "项目支出绩效自评表" if t["kind"] == "project" else "部门整体支出绩效自评表"
    body = workbook(layout(t), sheet, footer(t, t["projectionDigest"]))
    return Response(body, media_type=XLSX, headers=_attachment(t, "xlsx"))


@_page
async def self_evaluation_pdf(request: Request) -> Response:
    t = await _table(request)
    pdf = await run_in_threadpool(lambda: HTML(string=_html(request, t)).write_pdf())
    return Response(pdf, media_type="application/pdf", headers=_attachment(t, "pdf"))


def self_evaluation_routes() -> list[Route]:
    found = []
    for prefix in ("/lines/{line}/{year:int}", "/departments/{code}/{year:int}"):
        table = f"{prefix}/self-evaluation"
        if prefix.startswith("/lines"):
            found.append(Route(prefix, self_evaluation_page))
        found += [
            Route(table, self_evaluation_page),
            Route(f"{table}.xlsx", self_evaluation_xlsx),
            Route(f"{table}.pdf", self_evaluation_pdf),
        ]
    return found
