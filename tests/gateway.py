"""The gateway's side of the tests: tokens signed with the tests' secret, and the schema as
the tests run it in process (as an auditor of every department)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from deploy.infra import ServiceProcess, free_port, wait_http
from services.reporting.access import Viewer, issue_token
from services.reporting.policy import QueryLimits
from services.reporting.schema import Context, build_schema

SECRET = "tests-only-secret-of-at-least-32-bytes"
AUDITOR = Viewer("test-auditor", frozenset({"*"}), frozenset({"auditor"}))
SCHEMA = build_schema(QueryLimits(introspection=True))


def token(
    departments: list[str] | None = None, roles: list[str] | None = None, **claims: Any
) -> str:
    """A token of the tests' secret; by default an auditor of every department."""
    return issue_token(
        SECRET,
        str(claims.pop("sub", "test-auditor")),
        ["*"] if departments is None else departments,
        ["auditor"] if roles is None else roles,
        **claims,
    )


def context(pool: asyncpg.Pool, viewer: Viewer = AUDITOR) -> Context:
    timezone = ZoneInfo("Asia/Shanghai")
    return Context(pool, viewer, datetime.now(timezone).date(), timezone)


class Gateway:
    """The gateway as a client reaches it over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, headers=headers, timeout=60, **kwargs)

    def post(
        self, query: str, token: str | None, variables: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            self.url + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=60,
        )
        return response.status_code, response.json()


@contextlib.asynccontextmanager
async def serving(database: str, logs: Path, **env: str) -> AsyncIterator[Gateway]:
    """The real gateway process on a free port, over ``database``, verifying the tests'
    tokens."""
    port = free_port()
    settings = {"DATABASE_URL": database, "GRAPHQL_PORT": str(port), "AUTH_JWT_SECRET": SECRET}
    process = ServiceProcess("reporting", settings | env, logs).start()
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", process=process)
        yield Gateway(f"http://127.0.0.1:{port}")
    finally:
        process.stop()
