"""Entry point of the reporting gateway: ``python -m services.reporting``.

GraphQL (with GraphiQL in a browser) at /graphql, the evaluation page at
/departments/<code>/<year>[?asOf=YYYY-MM-DD], the assessment bulletin and its CSV at
/departments/<code>/<year>/assessment[/<month>][.csv], liveness at /healthz.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from services.common.db import create_pool
from services.reporting.page import assessment_csv, assessment_page, evaluation_page
from services.reporting.schema import Context, schema
from services.reporting.settings import ReportingSettings


class EvaluationGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(pool=request.app.state.pool)


async def healthz(request: Request) -> PlainTextResponse:
    async with request.app.state.pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
    return PlainTextResponse("ok")


def build_app(settings: ReportingSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await create_pool(
            settings.database_url, max_size=8, projections=settings.projection_schema
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    graphql = EvaluationGraphQL(schema)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/departments/{code}/{year:int}", evaluation_page),
            Route("/departments/{code}/{year:int}/assessment", assessment_page),
            Route("/departments/{code}/{year:int}/assessment.csv", assessment_csv),
            Route("/departments/{code}/{year:int}/assessment/{month:int}", assessment_page),
            Route("/departments/{code}/{year:int}/assessment/{month:int}.csv", assessment_csv),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s reporting %(levelname)s %(message)s"
    )
    settings = ReportingSettings()
    uvicorn.run(
        build_app(settings),
        host=settings.graphql_host,
        port=settings.graphql_port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
