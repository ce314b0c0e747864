"""The reporting gateway's wiring, ``python -m services.reporting``: what it connects to (the
projections in PostgreSQL, read-only: the schema PROJECTION_SCHEMA names) and what it serves
(GraphQL, the pages and the CSV, app.py, over HTTP with uvicorn; /healthz, /readyz and
/metrics beside them, its access log and metrics in observe.py)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.common import probes
from services.common.db import create_pool
from services.common.environment import from_environment
from services.common.event_store import projection_lag
from services.common.logs import setup_logging
from services.common.projections import LIVE
from services.reporting.access import TokenVerifier
from services.reporting.app import Admission, Authenticate, routes
from services.reporting.cache import FiguresCache
from services.reporting.observe import Observe
from services.reporting.page import error_page
from services.reporting.publish import Publisher
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


def lag_check(settings: ReportingSettings, pool: Callable[[], asyncpg.Pool]) -> probes.Check:
    """The projections are at most READY_MAX_LAG_SECONDS behind the ledger's event store
    (read with the grants reporting has: SELECT on ledger.events and on the projections).
    A snapshot (PROJECTION_SCHEMA other than the live one) is behind on purpose: not checked."""
    limit = settings.ready_max_lag_seconds

    async def check() -> str:
        if settings.projection_schema != LIVE:
            return f"snapshot {settings.projection_schema}: not checked"
        async with pool().acquire(timeout=probes.CHECK_TIMEOUT) as conn:
            positions, seconds = await projection_lag(conn)
        behind = f"{positions} positions, {seconds:.1f} s behind the ledger"
        if seconds > limit:
            raise probes.NotReady(f"{behind} (READY_MAX_LAG_SECONDS={limit:g})")
        return behind

    return check


# what a browser reads for Starlette's own refusals (unknown route, wrong method, ...)
STATUS_MESSAGES = {404: "Not Found: 没有这个地址", 405: "Method Not Allowed: 不支持此请求方法"}


async def http_error(request: Request, error: Exception) -> Response:
    """Starlette's HTTP errors: JSON for /graphql and clients asking for JSON, otherwise
    the Chinese error page (templates/error.html)."""
    assert isinstance(error, HTTPException)
    status = error.status_code
    headers = dict(error.headers or {})
    if status in (204, 304):
        return Response(status_code=status, headers=headers)
    wants_json = "application/json" in request.headers.get("accept", "")
    if request.url.path.startswith("/graphql") or (
        wants_json and "text/html" not in request.headers.get("accept", "")
    ):
        body = {"errors": [{"message": error.detail, "extensions": {"code": f"HTTP_{status}"}}]}
        return JSONResponse(body, status_code=status, headers=headers)
    message = STATUS_MESSAGES.get(status, str(error.detail))
    return error_page(status, f"{message} ({request.url.path})", headers)


def build_app(settings: ReportingSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        resources = await connect(settings)
        app.state.pool = resources.pool  # what the handlers use
        # what is loaded by now lives as long as the process: out of the collector's sight,
        # its full collections take a few ms instead of 50-150 (the tail of the latency)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.publisher.close()
            await disconnect(resources)

    tokens = verifier(settings)
    schema = build_schema(settings.limits())
    checks = {
        "database": probes.database(lambda: app.state.pool),
        "projection_lag": lag_check(settings, lambda: app.state.pool),
    }
    served = routes(schema, settings.graphiql, checks)
    app = Starlette(
        routes=served,
        middleware=[
            Middleware(Observe, routes=served),  # outermost: refusals are counted too
            Middleware(Admission, limit=settings.gateway_max_in_flight),
            Middleware(Authenticate, verifier=tokens, max_bytes=settings.graphql_max_bytes),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )
    app.state.verifier, app.state.schema = tokens, schema
    app.state.timezone = ZoneInfo(settings.timezone)  # where today is, for evaluations of now
    app.state.figures_cache = FiguresCache()  # answers shared by the requests (cache.py)
    app.state.publisher = Publisher(settings)  # evaluators' events (started on first use)
    return app


def main() -> None:
    settings = from_environment(ReportingSettings)
    setup_logging("reporting", settings.log_format)
    uvicorn.run(
        build_app(settings),
        host=settings.graphql_host,
        port=settings.graphql_port,
        log_config=None,  # uvicorn's loggers reach the service's handlers (logs.py)
        log_level="warning",
        access_log=False,  # the access log is observe.py's
    )


if __name__ == "__main__":
    main()
