"""The reporting gateway's HTTP surface: GraphQL at /graphql (GraphiQL in a browser when
GRAPHIQL=1), the evaluation page at /departments/<code>/<year>[?asOf=YYYY-MM-DD], the
assessment bulletin and its CSV at /departments/<code>/<year>/assessment[/<month>][.csv],
liveness at /healthz, readiness at /readyz and Prometheus metrics at /metrics
(services/common/probes.py); /login?token=...&next=/path keeps a token in the browser's
cookie.

Every route but PUBLIC's needs a bearer token (the header, or the cookie ``ledger_token``):
``Authenticate`` verifies it and leaves the ``Viewer`` in the request's state, or answers
401; ``Admission`` answers 503 beyond GATEWAY_MAX_IN_FLIGHT requests at once. The public
routes show no figures (/metrics: operational counters only). The handlers reach the
database through ``request.app.state.pool`` and the schema through
``request.app.state.schema`` (bootstrap.py sets both).
"""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from typing import Any

import orjson
import strawberry
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from services.common.probes import Check, probe_routes
from services.reporting.access import COOKIE, TokenVerifier, Unauthorized
from services.reporting.evidence_page import ROUTES as evidence_routes
from services.reporting.graphiql import graphiql_assets, graphiql_page
from services.reporting.observe import GRAPHQL_CONTEXT
from services.reporting.page import (
    assessment_csv,
    assessment_page,
    error_page,
    evaluation_page,
)
from services.reporting.reconcile_page import ROUTES as reconcile_routes
from services.reporting.schema import Context
from services.reporting.self_evaluation_page import self_evaluation_routes

log = logging.getLogger("services.reporting")
PUBLIC = frozenset({"/healthz", "/readyz", "/metrics", "/login", "/logout"})


class EvaluationGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context.of(request)
        setattr(request.state, GRAPHQL_CONTEXT, context)  # its operation's name, for observe.py
        return context

    async def render_graphql_ide(self, request: Any) -> Response:
        return graphiql_page()  # strawberry's GraphiQL, its assets served here (graphiql.py)


def bearer(headers: dict[str, str]) -> str | None:
    """The token of a request: ``Authorization: Bearer ...``, else the cookie."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    cookie = SimpleCookie(headers.get("cookie", ""))
    return cookie[COOKIE].value if COOKIE in cookie else None


class Authenticate:
    """ASGI middleware: every request but PUBLIC's carries a verified token, or gets 401;
    request bodies larger than ``max_bytes`` get 413."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, max_bytes: int) -> None:
        self.app, self.verifier, self.max_bytes = app, verifier, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.max_bytes:
            message = f"request body over {self.max_bytes} bytes (GRAPHQL_MAX_BYTES)"
            return await _refusal(scope, 413, message)(scope, receive, send)
        try:
            viewer = await self.verifier.verify(bearer(headers))
        except Unauthorized as error:
            log.info("401 %s %s: %s", scope["method"], scope["path"], error)
            return await _refusal(scope, 401, str(error))(scope, receive, send)
        scope.setdefault("state", {})["viewer"] = viewer
        await self.app(scope, receive, send)


class Admission:
    """ASGI middleware: at most ``limit`` requests (PUBLIC's aside) in flight; one more gets
    503 at once, with Retry-After, rather than a place in an ever longer queue for the
    database pool's connections (GATEWAY_MAX_IN_FLIGHT)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit, self.in_flight = app, limit, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC:
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            message = (f"the gateway is answering {self.limit} requests already "
                       "(GATEWAY_MAX_IN_FLIGHT): try again in a moment")  # fmt: skip
            return await _refusal(scope, 503, message)(scope, receive, send)
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


REFUSALS = {  # status: (GraphQL error code, headers)
    401: ("UNAUTHENTICATED", {"www-authenticate": 'Bearer error="invalid_token"'}),
    413: ("REQUEST_TOO_LARGE", {}),
    503: ("BUSY", {"retry-after": "1"}),
}


def _refusal(scope: Scope, status: int, message: str) -> Response:
    """A refusal as the client reads it: GraphQL's error shape, or a page."""
    code, headers = REFUSALS[status]
    if scope["path"] == "/graphql":
        body = {"errors": [{"message": message, "extensions": {"code": code}}]}
        return Response(orjson.dumps(body), status, headers, media_type="application/json")
    return error_page(status, message, headers)


async def login(request: Request) -> Response:
    """``/login?token=...&next=/departments/...``: the token kept in an HttpOnly cookie (the
    links `make run` prints), then on to ``next`` (a path of this site)."""
    token = request.query_params.get("token", "")
    try:
        await request.app.state.verifier.verify(token)
    except Unauthorized as error:
        return error_page(401, str(error))
    target = request.query_params.get("next", "/graphql")
    if not target.startswith("/") or target.startswith("//"):
        target = "/graphql"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    response = PlainTextResponse("已退出 (the token cookie is removed)")
    response.delete_cookie(COOKIE)
    return response


def routes(schema: strawberry.Schema, graphiql: bool, checks: dict[str, Check]) -> list[BaseRoute]:
    """The gateway's routes; ``checks``: its readiness (bootstrap.py)."""
    graphql = EvaluationGraphQL(schema, graphql_ide="graphiql" if graphiql else None)
    return [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        *probe_routes(checks),
        Route("/login", login),
        Route("/logout", logout),
        Route("/departments/{code}/{year:int}", evaluation_page),
        Route("/departments/{code}/{year:int}/assessment", assessment_page),
        Route("/departments/{code}/{year:int}/assessment.csv", assessment_csv),
        Route("/departments/{code}/{year:int}/assessment/{month:int}", assessment_page),
        Route("/departments/{code}/{year:int}/assessment/{month:int}.csv", assessment_csv),
        *self_evaluation_routes(),
        *reconcile_routes,
        *evidence_routes,
        *([graphiql_assets()] if graphiql else []),  # /static/graphiql/... (graphiql.py)
    ]
