"""The audit of operator actions (``ledger.operator_actions``, append-only): one row per
invocation of an operator command that changes something, written by the ledger's and the
performance service's CLIs, whatever the outcome.

The row is written on a connection of its own once the command ended, so neither the
command's transaction nor its failure can lose it; a command that succeeded but could not be
recorded fails (the change was made: its output says so), a failed one keeps its own error.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

TABLE = "ledger.operator_actions"


def actor() -> str:
    """Who acts: OPERATOR_NAME if set, else ``<os user>@<hostname>``."""
    named = os.environ.get("OPERATOR_NAME", "").strip()
    if named:
        return named
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


@dataclass
class Action:
    """One invocation of an operator command; the command may fill in what it learns."""

    action: str
    arguments: dict[str, Any]
    department: str | None = None
    fiscal_year: int | None = None
    detail: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


async def record(conn: asyncpg.Connection, action: Action, outcome: str, actor: str) -> None:
    """Append the action's row (``outcome``: ``ok`` or ``failed``)."""
    await conn.execute(
        f"""INSERT INTO {TABLE} (actor, action, arguments, department, fiscal_year, outcome,
                detail, started_at)
            VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)""",
        actor,
        action.action,
        json.dumps(action.arguments, default=str, ensure_ascii=False),
        action.department,
        action.fiscal_year,
        outcome,
        action.detail,
        action.started_at,
    )


def one_line(error: BaseException) -> str:
    """An error's message on one line (a refusal's own message when it carries one)."""
    text = str(getattr(error, "message", None) or error).strip()
    if isinstance(error, KeyboardInterrupt):
        text = "interrupted"
    first = text.splitlines()[0] if text else type(error).__name__
    return first[:1000]


async def _write(dsn: str, action: Action, outcome: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await record(conn, action, outcome, actor())
    finally:
        await conn.close()


@contextmanager
def audited(
    dsn: str,
    action: str,
    arguments: dict[str, Any],
    department: str | None = None,
    fiscal_year: int | None = None,
) -> Iterator[Action]:
    """Run a (synchronous) command's body and record it in the audit, ok or failed."""
    entry = Action(action, arguments, department, fiscal_year)
    try:
        yield entry
    except BaseException as error:
        if getattr(error, "exit_code", 1) == 0:  # typer.Exit(0): a success
            asyncio.run(_write(dsn, entry, "ok"))
            raise
        entry.detail = one_line(error)
        try:
            asyncio.run(_write(dsn, entry, "failed"))
        except Exception as audit_error:  # the command's own error is what the operator sees
            print(f"the audit row was not written: {one_line(audit_error)}", file=sys.stderr)
        raise
    try:
        asyncio.run(_write(dsn, entry, "ok"))
    except Exception as audit_error:
        print(
            f"{action} was done, but its audit row was not written: {one_line(audit_error)}",
            file=sys.stderr,
        )
        raise SystemExit(1) from audit_error
