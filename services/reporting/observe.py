"""What the gateway tells its operators: one access log line per request and Prometheus
metrics, neither with a token, a query string, GraphQL variables or a figure.

- ``http_requests_total{route, status}``: requests answered, by route (its path template,
  e.g. ``/departments/{code}/{year:int}``, or ``unmatched``) and HTTP status;
- ``graphql_request_seconds{operation}``: time to answer a GraphQL request, by its
  operation's name (``anonymous`` without one; ``other`` past ``MAX_OPERATIONS`` names or
  for a name that is not a GraphQL name), so that a client cannot grow the label set;
- the access log (logger ``services.reporting.access``): ``method``, ``path``, ``status``,
  ``duration_ms``, ``operation``; not for /healthz, /readyz and /metrics (probes, scrapes).

``Observe`` is the outermost middleware, so refusals (401, 413) are counted and logged
too; ``NamesOperation`` (a schema extension) leaves the operation's name in the request's
GraphQL context, where ``Observe`` reads it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

log = logging.getLogger("services.reporting.access")

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests the gateway answered, by route (path template) and status",
    ["route", "status"],
)
GRAPHQL_SECONDS = Histogram(
    "graphql_request_seconds",
    "Time to answer a GraphQL request (from its first byte to its last), by operation name",
    ["operation"],
)
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})  # counted, not logged
MAX_OPERATIONS = 100
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
GRAPHQL_CONTEXT = "graphql"  # the request state's key of the GraphQL context (app.py)


class NamesOperation(SchemaExtension):
    """Keeps the executed operation's name in the GraphQL context (``Context.operation``)."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if context is not None:
            context.operation = self.execution_context.operation_name


class Observe:
    """ASGI middleware: counts, times and logs every HTTP request."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app, self.routes = app, routes
        self.operations: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500  # an exception answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = self._route(scope)
        REQUESTS.labels(route, str(status)).inc()
        context: Any = scope.get("state", {}).get(GRAPHQL_CONTEXT)
        operation = self._operation(getattr(context, "operation", None))
        if context is not None:  # GraphQL ran (not refused before it)
            GRAPHQL_SECONDS.labels(operation).observe(seconds)
        if scope["path"] not in QUIET:
            log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={"method": scope["method"], "path": scope["path"], "status": status,
                       "duration_ms": round(seconds * 1000, 1),
                       "operation": operation if context is not None else None},
            )  # fmt: skip

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return str(getattr(route, "path", "unmatched"))
        return "unmatched"

    def _operation(self, name: str | None) -> str:
        """The operation's label: its name while the label set stays small."""
        if not name:
            return "anonymous"
        if name in self.operations:
            return name
        if not NAME.fullmatch(name) or len(self.operations) >= MAX_OPERATIONS:
            return "other"
        self.operations.add(name)
        return name
