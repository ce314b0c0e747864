"""The gateway's side of the tests: tokens signed with the tests' secret, and the schema as
the tests run it in process (as an auditor of every department)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

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
    return Context(pool, viewer, datetime.now(ZoneInfo("Asia/Shanghai")).date())
