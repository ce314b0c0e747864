"""The reporting gateway's HTTP surface: GraphQL (with GraphiQL in a browser) at /graphql, the
evaluation page at /departments/<code>/<year>[?asOf=YYYY-MM-DD], the assessment bulletin and
its CSV at /departments/<code>/<year>/assessment[/<month>][.csv], liveness at /healthz.

The handlers reach the database through ``request.app.state.pool`` (bootstrap.py sets it).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from services.reporting.page import assessment_csv, assessment_page, evaluation_page
from services.reporting.schema import Context, schema


class EvaluationGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(pool=request.app.state.pool)


async def healthz(request: Request) -> PlainTextResponse:
    async with request.app.state.pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
    return PlainTextResponse("ok")


def routes() -> list[Route]:
    graphql = EvaluationGraphQL(schema)
    return [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz),
        Route("/departments/{code}/{year:int}", evaluation_page),
        Route("/departments/{code}/{year:int}/assessment", assessment_page),
        Route("/departments/{code}/{year:int}/assessment.csv", assessment_csv),
        Route("/departments/{code}/{year:int}/assessment/{month:int}", assessment_page),
        Route("/departments/{code}/{year:int}/assessment/{month:int}.csv", assessment_csv),
    ]
