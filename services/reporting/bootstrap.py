"""The reporting gateway's wiring, ``python -m services.reporting``: what it connects to (the
projections in PostgreSQL, read-only: the schema PROJECTION_SCHEMA names) and what it serves
(GraphQL, the pages and the CSV, app.py, over HTTP with uvicorn)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from services.common.db import create_pool
from services.reporting.access import TokenVerifier
from services.reporting.app import Authenticate, routes
from services.reporting.schema import build_schema
from services.reporting.settings import ReportingSettings


@dataclass
class Resources:
    """What the gateway opens at startup and closes at shutdown."""

    pool: asyncpg.Pool


async def connect(settings: ReportingSettings) -> Resources:
    """A pool whose unqualified table names are those of the projection schema."""
    pool = await create_pool(
        settings.database_url, max_size=8, projections=settings.projection_schema
    )
    return Resources(pool)


async def disconnect(resources: Resources) -> None:
    await resources.pool.close()


def verifier(settings: ReportingSettings) -> TokenVerifier:
    secret = settings.auth_jwt_secret
    return TokenVerifier(
        secret=secret.get_secret_value() if secret else None,
        jwks_url=settings.auth_jwks_url,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        jwks_cooldown=settings.auth_jwks_cooldown,
    )


def build_app(settings: ReportingSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        resources = await connect(settings)
        app.state.pool = resources.pool  # what the handlers use
        try:
            yield
        finally:
            await disconnect(resources)

    tokens = verifier(settings)
    schema = build_schema(settings.limits())
    app = Starlette(
        routes=routes(schema, settings.graphiql),
        middleware=[
            Middleware(Authenticate, verifier=tokens, max_bytes=settings.graphql_max_bytes)
        ],
        lifespan=lifespan,
    )
    app.state.verifier, app.state.schema = tokens, schema
    return app


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
