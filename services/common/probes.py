"""Health, readiness and metrics over HTTP, the same in every service.

- ``/healthz``: the process answers (liveness); nothing is checked.
- ``/readyz``: every check of the service passes (readiness): 200 with each check's detail,
  or 503 naming the failing ones, e.g. ``{"status": "not ready", "failing": ["database"],
  "checks": {"database": {"ok": false, "detail": "ConnectionRefusedError: ..."}, ...}}``.
  A check is an async callable that returns a short detail or raises; one that takes more
  than ``CHECK_TIMEOUT`` seconds fails.
- ``/metrics``: the Prometheus exposition of the process's registry (prometheus_client's
  default one: the service's metrics, the process's and the interpreter's).

The gateway serves these routes beside GraphQL; the consumers (ledger, performance) on a
port of their own (``ProbeServer``), beside their Kafka consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.db import pending_migrations

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str]]
"""A readiness check: returns a short detail ("ok", "4 partitions"), raises when failing."""
CHECK_TIMEOUT = 2.0  # seconds: a probe answers within it (Kubernetes' default timeout: 1 s)


class NotReady(Exception):
    """A check's failure that its message explains (no exception type is shown)."""


async def _run(check: Check) -> tuple[bool, str]:
    try:
        return True, await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except NotReady as error:
        return False, str(error)
    except TimeoutError:
        return False, f"no answer within {CHECK_TIMEOUT} s"
    except Exception as error:  # what the service could not reach, as the client said it
        return False, f"{type(error).__name__}: {error}"[:300]


async def readiness(checks: dict[str, Check]) -> tuple[int, dict[str, Any]]:
    """The checks, run concurrently: (HTTP status, body)."""
    results = dict(zip(checks, await asyncio.gather(*map(_run, checks.values())), strict=True))
    failing = [name for name, (ok, _) in results.items() if not ok]
    body: dict[str, Any] = {"status": "not ready" if failing else "ready"}
    if failing:
        body["failing"] = failing
    body["checks"] = {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()}
    return (503 if failing else 200), body


def probe_routes(checks: dict[str, Check]) -> list[Route]:
    """/healthz, /readyz (with these checks) and /metrics."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        status, body = await readiness(checks)
        return JSONResponse(body, status)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


def database(pool: Callable[[], asyncpg.Pool]) -> Check:
    """The database answers (``pool``: the service's pool, once open)."""

    async def check() -> str:
        async with pool().acquire(timeout=CHECK_TIMEOUT) as conn:
            await conn.fetchval("SELECT 1")
        return "ok"

    return check


def migrations(dsn: str, folder: Path) -> Check:
    """Every migration of the service's folder is applied (read-only: yoyo's table), read
    on a connection of its own as at the service's start: the pool's connections look in
    the projection schema first, yoyo's table is in the database's default one."""

    async def check() -> str:
        conn = await asyncpg.connect(dsn, timeout=CHECK_TIMEOUT)
        try:
            pending = await pending_migrations(conn, folder)
        finally:
            await conn.close()
        if pending:
            raise NotReady(f"pending: {', '.join(pending)} (run python -m deploy.provision)")
        return "applied"

    return check


def listen(host: str, port: int, variable: str) -> socket.socket:
    """The probe server's socket, bound now: a taken port stops the service at once, with
    the variable that moves it (two instances on one host need a port each)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise SystemExit(f"{variable}={port}: cannot listen on {host}:{port}: {error}") from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The service's own signal handlers stay (faststream's stop the app, which stops
        this server); uvicorn would replace them with its own."""
        yield


class ProbeServer:
    """``probe_routes`` served on an already bound socket, beside a service's other work."""

    def __init__(self, sock: socket.socket, checks: dict[str, Check]) -> None:
        config = uvicorn.Config(
            Starlette(routes=probe_routes(checks)),
            log_config=None,  # uvicorn's loggers reach the service's handlers (logs.py)
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self.sock, self.server = sock, _Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        host, port = self.sock.getsockname()[:2]
        log.info("serving /healthz, /readyz and /metrics on %s:%d", host, port)

    async def stop(self) -> None:
        if self.task is not None:
            self.server.should_exit = True
            await self.task
            self.task = None
