"""The ledger's operator commands: ``ledger --help`` (or ``python -m services.ledger.cli``).

Reads DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and TOPIC_* like the service does. The commands
that change something are recorded in the audit of operator actions (services/common/audit.py;
the actor is OPERATOR_NAME, or <os user>@<hostname>).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import asyncpg
import typer
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.table import Table

from schemas.events import TOPIC_GROUP
from services.common import audit
from services.common.environment import OPERATOR_HINT, from_environment
from services.common.kafka import client_options
from services.ledger.records import InboundRecord, Refused, validate
from services.ledger.settings import LedgerSettings
from services.ledger.store import rejections as store
from services.ledger.store.relay import republish_after

app = typer.Typer(help="Operate the ledger: rejections, held records, the journal.")
rejections_app = typer.Typer(help="List, inspect and resubmit rejected records.")
journal_app = typer.Typer(help="The ledger.journal topic.")
app.add_typer(rejections_app, name="rejections")
app.add_typer(journal_app, name="journal")
console = Console(soft_wrap=True)
T = TypeVar("T")


class Status(StrEnum):
    open = "open"
    resubmitted = "resubmitted"
    resolved = "resolved"
    all = "all"


class _Failure(typer.Exit):
    """A command refused: its message printed in red, exit code 1, and kept for the audit."""

    def __init__(self, message: str) -> None:
        super().__init__(1)
        self.message = message


def _settings() -> LedgerSettings:
    return from_environment(LedgerSettings, OPERATOR_HINT)


def _audited(action: str, arguments: dict[str, Any]) -> AbstractContextManager[audit.Action]:
    return audit.audited(_settings().database_url, action, arguments)


def _run(work: Callable[[asyncpg.Connection, LedgerSettings], Awaitable[T]]) -> T:
    settings = _settings()

    async def main() -> T:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await work(conn, settings)
        finally:
            await conn.close()

    return asyncio.run(main())


@rejections_app.command("list")
def list_rejections(
    department: Annotated[str | None, typer.Option(help="Only this department")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason code")] = None,
    since: Annotated[datetime | None, typer.Option(help="Received from (UTC if naive)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Received before (UTC if naive)")] = None,
    status: Annotated[Status, typer.Option(help="open: neither resubmitted nor resolved")] = (
        Status.all
    ),
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Rejected records, newest first."""

    rows = _run(
        lambda conn, _: store.list_rejections(
            conn, department, reason, _aware(since), _aware(until), status.value, limit
        )
    )
    if as_json:
        for row in rows:
            print(json.dumps(dict(row), default=str, ensure_ascii=False))
        return
    table = Table("id", "received", "department", "event_id", "reason", "message", "status")
    for row in rows:
        table.add_row(
            str(row["rejection_id"]),
            f"{row['received_at']:%Y-%m-%d %H:%M:%S}",
            row["department"] or "",
            row["event_id"] or "",
            row["reason"],
            row["message"],
            row["status"],
        )
    console.print(table)
    console.print(f"{len(rows)} shown (--limit {limit})")


@rejections_app.command("show")
def show_rejection(rejection_id: int) -> None:
    """One rejection in full, with the original record (text if UTF-8, else base64)."""
    row = _run(lambda conn, _: _fetch_rejection(conn, rejection_id))
    for key in (
        "rejection_id",
        "received_at",
        "status",
        "reason",
        "field",
        "message",
        "department",
        "event_id",
        "source_topic",
        "source_partition",
        "source_offset",
        "resubmitted_event_id",
        "resubmitted_at",
        "resolved_position",
    ):
        console.print(f"[bold]{key}[/bold]: {row[key]}", markup=True, highlight=False)
    raw = bytes(row["raw"])
    try:
        original = raw.decode("utf-8")
        console.print("[bold]original[/bold]:", markup=True)
        print(original)
    except UnicodeDecodeError:
        console.print(f"[bold]original (base64)[/bold]: {base64.b64encode(raw).decode()}")


@rejections_app.command("resubmit")
def resubmit(
    rejection_id: int,
    file: Annotated[
        Path | None,
        typer.Option(
            help="The corrected event (JSON; '-' reads stdin). Without it the original record "
            "is sent again, e.g. once the event it depended on has arrived."
        ),
    ] = None,
) -> None:
    """Check a corrected event against the contract and publish it to its inbound topic.

    The rejection shows as resolved once the ledger accepts an event with the rejection's
    event_id or the corrected event's event_id."""

    async def work(conn: asyncpg.Connection, settings: LedgerSettings) -> None:
        row = await _fetch_rejection(conn, rejection_id)
        entry.department = row["department"]
        if row["resolved_position"] is not None:
            _fail(f"rejection {rejection_id} is already resolved")
        if file is None:
            value = bytes(row["raw"])
        else:
            value = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
        event = validate(InboundRecord(row["source_topic"], 0, 0, value))
        if isinstance(event, Refused):
            _fail(f"not resubmitted: {event.reason}: {event.message}")
        entry.department = event.department
        topic_of = {group: topic for topic, group in settings.topics.inbound().items()}
        topic = topic_of[TOPIC_GROUP[event.event_type]]
        await store.mark_resubmitted(conn, rejection_id, event.event_id)
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, **client_options(settings)
        )
        await producer.start()
        try:
            sent = await producer.send_and_wait(topic, value=value, key=event.department.encode())
        finally:
            await producer.stop()
        entry.detail = (
            f"resubmitted {event.event_type} {event.event_id!r} to {sent.topic} "
            f"partition {sent.partition} offset {sent.offset}"
        )
        console.print(
            f"{entry.detail}; `ledger rejections show {rejection_id}` tells when it is resolved"
        )

    arguments = {"rejection_id": rejection_id, "file": None if file is None else str(file)}
    with _audited("rejections resubmit", arguments) as entry:
        _run(work)


@app.command("held")
def list_held(
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Records waiting for an event they depend on (LEDGER_HOLD_SECONDS), oldest first."""

    table = Table("id", "held since", "department", "event_id", "reason", "waits for")
    for row in _run(lambda conn, _: store.list_held(conn, limit)):
        table.add_row(
            str(row["pending_id"]),
            f"{row['held_since']:%Y-%m-%d %H:%M:%S}",
            row["department"],
            row["event_id"],
            row["reason"],
            row["waits_for"],
        )
    console.print(table)


@journal_app.command("republish")
def republish(
    from_position: Annotated[
        int, typer.Option(min=0, help="Publish again every event after this position")
    ] = 0,
) -> None:
    """Publish the journal again from PostgreSQL (the running ledger's relay does it).
    Consumers skip positions they already applied, so nothing is counted twice."""

    done = f"the ledger's relay publishes the journal again after position {from_position}"
    with _audited("journal republish", {"from_position": from_position}) as entry:
        # the relay follows the commit order: it goes back to the earliest transaction that
        # stored a position past this one (and publishes a few before it again, maybe)
        _run(lambda conn, _: republish_after(conn, "journal", from_position))
        entry.detail = done
    console.print(done)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


async def _fetch_rejection(conn: asyncpg.Connection, rejection_id: int) -> asyncpg.Record:
    row = await store.fetch_rejection(conn, rejection_id)
    if row is None:
        _fail(f"no rejection with id {rejection_id}")
    return row


def _fail(message: str) -> NoReturn:
    console.print(f"[red]{message}[/red]")
    raise _Failure(message)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
