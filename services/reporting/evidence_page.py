"""The evidence of a figure as pages: ``/departments/<code>/<year>/evidence/<metric>`` lists
the events behind it a page at a time (``?asOf=``, ``?lineId=``, ``?after=``), and ``.csv``
downloads them all; a rate's page shows its numerator and its denominator, each linked to its
own events. The evaluation page links every figure here. Through GraphQL's ``evidence``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from services.reporting import evidence, names
from services.reporting.exports import neutralised
from services.reporting.page import _answer, _page, templates, wan
from services.reporting.reconcile import RATES

QUERY = """
query($department: String!, $fiscalYear: Int!, $metric: String!, $asOf: Date,
      $lineId: String, $first: Int!, $after: String) {
  evidence(department: $department, fiscalYear: $fiscalYear, metric: $metric, asOf: $asOf,
           lineId: $lineId, first: $first, after: $after) {
    metric asOf totalCount sum
    edges { node { position eventId eventType department occurredAt recordedAt amount source
                   data } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
PAGE_SIZE = 100
CSV_PAGE = evidence.MAX_FIRST
COLUMNS = ("账本位置", "事件编号", "事件类型", "部门", "发生时间", "入账时间", "金额（万元）",
           "来源系统", "事件数据")  # fmt: skip


def local(moment: str, timezone: ZoneInfo) -> str:
    """An RFC 3339 instant as pages and files show it: in the gateway's time zone."""
    return datetime.fromisoformat(moment).astimezone(timezone).strftime("%Y-%m-%d %H:%M:%S")


async def _connection(request: Request, metric: str, first: int, after: str | None) -> Any:
    variables = {
        "department": request.path_params["code"], "fiscalYear": request.path_params["year"],
        "metric": metric, "lineId": request.query_params.get("lineId") or None,
        "first": first, "after": after,
    }  # fmt: skip
    return (await _answer(request, QUERY, **variables))["evidence"]


def _rows(request: Request, found: dict[str, Any]) -> list[list[str]]:
    return [_row(edge["node"], request.app.state.timezone) for edge in found["edges"]]


def _row(node: dict[str, Any], timezone: ZoneInfo) -> list[str]:
    return [
        str(node["position"]), node["eventId"], names.named(node["eventType"], names.EVENTS),
        node["department"], local(node["occurredAt"], timezone),
        local(node["recordedAt"], timezone), "" if node["amount"] is None else wan(node["amount"]),
        node["source"],
        json.dumps(node["data"], ensure_ascii=False, sort_keys=True),
    ]  # fmt: skip


@_page
async def evidence_page(request: Request) -> Response:
    code, year = request.path_params["code"], request.path_params["year"]
    metric = request.path_params["metric"]
    as_of, line_id = request.query_params.get("asOf"), request.query_params.get("lineId")
    name = names.snake(metric)
    context: dict[str, Any] = {
        "code": code, "year": year, "metric": metric, "label": names.METRICS.get(name, metric),
        "line_id": line_id, "as_of": as_of,
    }  # fmt: skip
    if name in RATES:  # its numerator's and its denominator's evidence, each on its page
        terms = []
        for term in map(names.camel, RATES[name]):
            found = await _connection(request, term, 1, None)
            link = evidence.page_href(code, year, as_of, term, line_id)
            terms.append((names.METRICS[names.snake(term)], found, link))
        html = templates.get_template("evidence.html").render(terms=terms, **context)
        return HTMLResponse(html)
    found = await _connection(request, metric, PAGE_SIZE, request.query_params.get("after"))
    following = None
    if found["pageInfo"]["hasNextPage"]:
        asked = {**request.query_params, "after": found["pageInfo"]["endCursor"]}
        following = f"{request.url.path}?{urlencode(asked)}"
    csv_query = urlencode({k: v for k, v in request.query_params.items() if k != "after"})
    html = templates.get_template("evidence.html").render(
        found=found, rows=_rows(request, found), columns=COLUMNS,
        following=following, csv_href=f"{request.url.path}.csv?{csv_query}", **context,
    )  # fmt: skip
    return HTMLResponse(html)


@_page
async def evidence_csv(request: Request) -> Response:
    metric = request.path_params["metric"]
    first = await _connection(request, metric, CSV_PAGE, None)  # errors before the download

    async def pages() -> AsyncIterator[str]:
        found = first
        yield "\ufeff" + _csv([list(COLUMNS)])  # the BOM tells spreadsheets it is UTF-8
        while True:
            yield _csv(_rows(request, found))
            if not found["pageInfo"]["hasNextPage"]:
                return
            found = await _connection(request, metric, CSV_PAGE, found["pageInfo"]["endCursor"])

    code, year = request.path_params["code"], request.path_params["year"]
    name = f"evidence-{code}-{year}-{metric}-{first['asOf']}.csv"
    return StreamingResponse(
        pages(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([neutralised(c) for c in row] for row in rows)
    return out.getvalue()


ROUTES = [
    Route("/departments/{code}/{year:int}/evidence/{metric}.csv", evidence_csv),
    Route("/departments/{code}/{year:int}/evidence/{metric}", evidence_page),
]
