"""``/departments/<code>/<year>/reconcile``: an auditor pastes or uploads a report's printed
figures (CSV: label, metric, value, unit, lineId) and reads them checked against the events,
mismatches first (``?asOf=`` as on every page). The figures go through GraphQL's
``reconcile`` as the viewer."""

from __future__ import annotations

from dataclasses import asdict

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from services.reporting.errors import UserInputError
from services.reporting.names import METRICS
from services.reporting.page import PageError, _answer, _page, templates
from services.reporting.reconcile import COLUMNS, from_csv

QUERY = """
query($department: String!, $fiscalYear: Int!, $asOf: Date, $printed: [PrintedFigure!]!) {
  reconcile(department: $department, fiscalYear: $fiscalYear, asOf: $asOf, printed: $printed) {
    label metric lineId unit printed computed reproduces difference
  }
}
"""
UNITS = {"percent": "%", "fraction": "", "yuan": "元", "wan_yuan": "万元", "count": "件"}


async def _figures(request: Request) -> str:
    """The CSV of the form: the uploaded file, else the pasted text."""
    form = await request.form(max_files=1, max_fields=4)  # bodies over GRAPHQL_MAX_BYTES: 413
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read()
        try:
            return content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PageError(400, "the uploaded file is not UTF-8 text (CSV)") from None
    pasted = form.get("figures")
    return pasted if isinstance(pasted, str) else ""


@_page
async def reconcile_page(request: Request) -> Response:
    code, year = request.path_params["code"], request.path_params["year"]
    text = await _figures(request) if request.method == "POST" else ""
    try:
        printed = [
            {"lineId" if k == "line_id" else k: v for k, v in asdict(p).items()}
            for p in (from_csv(text) if text else [])
        ]
    except UserInputError as error:
        raise PageError(400, str(error)) from None
    # asked even with no figures: the department must exist and be the viewer's
    data = await _answer(request, QUERY, department=code, fiscalYear=year, printed=printed)
    found = sorted(data["reconcile"], key=lambda r: r["reproduces"]) if text else None
    html = templates.get_template("reconcile.html").render(
        code=code, year=year, found=found, text=text, columns=",".join(COLUMNS) + ",lineId",
        units=UNITS, metrics=METRICS, as_of=request.query_params.get("asOf"),
    )  # fmt: skip
    return HTMLResponse(html)


ROUTES = [
    Route("/departments/{code}/{year:int}/reconcile", reconcile_page, methods=["GET", "POST"])
]
