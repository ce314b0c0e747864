"""The performance projections' operator commands: ``performance --help``.

Reads DATABASE_URL (the projections), LEDGER_DATABASE_URL (the event store; default: the
same database) and TIMEZONE like the service does. A replay is recorded in the audit of
operator actions in the ledger's database (services/common/audit.py; the actor is
OPERATOR_NAME, or <os user>@<hostname>).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from services.common.audit import audited
from services.common.environment import OPERATOR_HINT, from_environment
from services.common.projections import LIVE
from services.common.projections import digest as year_digest
from services.performance import replay as replays
from services.performance.bootstrap import connect, disconnect
from services.performance.observe import replay_progress, serve_replay_progress
from services.performance.settings import PerformanceSettings

app = typer.Typer(help="Rebuild and check the performance projections.")
console = Console(soft_wrap=True)
T = TypeVar("T")

YEAR = Annotated[int, typer.Option("--fiscal-year", help="The fiscal year, e.g. 2017")]
DEPARTMENT = Annotated[
    str | None, typer.Option(help="Only this department's projections (its code)")
]


class EventsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} events/s")


def _run(work: Callable[[asyncpg.Pool, PerformanceSettings], Awaitable[T]]) -> T:
    """Run a command on the projections' database, its tables created if need be."""
    settings = from_environment(PerformanceSettings, OPERATOR_HINT)

    async def main() -> T:
        resources = await connect(settings)
        try:
            return await work(resources.pool, settings)
        finally:
            await disconnect(resources)

    return asyncio.run(main())


def until_moment(value: str, timezone: ZoneInfo) -> datetime:
    """A date means the end of that day in the time zone; a time needs its offset."""
    try:
        day = date.fromisoformat(value)
        return datetime.combine(day + timedelta(days=1), time.min, timezone) - timedelta(
            microseconds=1
        )
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} is neither a date (YYYY-MM-DD) nor a time with its UTC offset "
            "(YYYY-MM-DDTHH:MM+08:00)",
            param_hint="--until",
        )
    return moment


@app.command()
def replay(
    fiscal_year: YEAR,
    department: DEPARTMENT = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Rebuild the year as it stood at this moment (events the ledger recorded "
            "later are ignored) into a kept snapshot schema, instead of the live tables: "
            "a date (the end of that day) or a time with offset"
        ),
    ] = None,
    chunk: Annotated[int, typer.Option(min=100, help="Events read per round trip")] = 20_000,
    flush_every: Annotated[
        int,
        typer.Option(
            min=1000, help="Events after which the replay adds its daily buckets to the shadow"
        ),
    ] = 500_000,
) -> None:
    """Rebuild a fiscal year's projections from the ledger's event store into shadow tables,
    then swap them into the live ones in one transaction (the live service keeps running).
    Safe to run again; if it stops half-way, the live projections are untouched."""

    async def work(perf: asyncpg.Pool, settings: PerformanceSettings) -> replays.Replayed:
        moment = None if until is None else until_moment(until, ZoneInfo(settings.timezone))
        with _progress_bar() as progress:
            task = progress.add_task(f"{fiscal_year} {department or ''}".strip(), total=None)
            return await replays.replay(
                settings.database_url,
                settings.ledger_database_url or settings.database_url,
                fiscal_year,
                department=department,
                until=moment,
                timezone=settings.timezone,
                progress=_told(progress, task, settings),
                chunk=chunk,
                flush_every=flush_every,
            )

    settings = from_environment(PerformanceSettings, OPERATOR_HINT)
    arguments = {"fiscal_year": fiscal_year, "department": department, "until": until,
                 "chunk": chunk, "flush_every": flush_every}  # fmt: skip
    try:
        with audited(
            settings.ledger_database_url or settings.database_url, "performance replay", arguments,
            department, fiscal_year,
        ) as entry:  # fmt: skip
            done = _run(work)
            entry.detail = f"{done.events} events into {done.schema}, digest {done.digest}"
    except RuntimeError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from None
    _print_replayed(done, snapshot=until is not None)


def _told(progress: Progress, task: TaskID, settings: PerformanceSettings) -> replays.Progress:
    """A replay's progress, shown on the bar and kept in its gauges (served at /metrics on
    REPLAY_METRICS_PORT, when set, for a Kubernetes Job to be scraped)."""
    if settings.replay_metrics_port is not None:
        serve_replay_progress(settings.http_host, settings.replay_metrics_port)

    def told(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)
        replay_progress(done, total)

    return told


def _progress_bar() -> Progress:
    columns = (TextColumn("[bold]replay {task.description}"), BarColumn(), MofNCompleteColumn(),
               EventsPerSecond(), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())  # fmt: skip
    return Progress(*columns, console=console)


def _print_replayed(done: replays.Replayed, snapshot: bool) -> None:
    rate = done.events / done.seconds if done.seconds else 0
    console.print(f"replayed {done.events:,} events in {done.seconds:.1f} s ({rate:,.0f} events/s)")
    if not snapshot:
        console.print(f"swapped into the live projections; digest {done.digest}")
    else:
        console.print(f"snapshot in schema {done.schema}; digest {done.digest}")
        console.print(
            f"query it: PROJECTION_SCHEMA={done.schema} python -m services.reporting "
            "(GraphQL and pages as of that moment)"
        )


@app.command()
def digest(
    fiscal_year: YEAR,
    department: DEPARTMENT = None,
    schema: Annotated[
        str, typer.Option(help="Projection schema: the live one, or a replay's snapshot")
    ] = LIVE,
) -> None:
    """Print the digest of a year's projection rows: equal digests, equal projections."""

    async def work(perf: asyncpg.Pool, settings: PerformanceSettings) -> str:
        async with perf.acquire() as conn:
            return await year_digest(conn, fiscal_year, department, schema)

    console.print(_run(work))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
