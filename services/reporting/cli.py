"""The gateway's operator command: ``reporting reconcile`` checks a report's printed figures
against the projections (DATABASE_URL; the reporting role's read access is enough)."""

from __future__ import annotations

import asyncio
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from services.common.db import create_pool
from services.common.environment import from_environment
from services.common.settings import CommonSettings
from services.reporting.access import Viewer
from services.reporting.errors import UserInputError
from services.reporting.evaluation import DepartmentKey
from services.reporting.loaders import Context
from services.reporting.reconcile import from_csv
from services.reporting.types.reconcile import PrintedFigure, Reconciliation, reconciled

app = typer.Typer()


@app.callback()
def commands() -> None:
    """Check what reports print against the events."""


OPERATOR = Viewer("operator-cli", frozenset({"*"}), frozenset({"auditor"}))


@app.command()
def reconcile(
    figures: Annotated[Path, typer.Argument(help="CSV: label,metric,value,unit[,lineId]; - stdin")],
    department: Annotated[str, typer.Option(help="The department whose report it is")],
    fiscal_year: Annotated[int, typer.Option("--fiscal-year", help="e.g. 2017")],
    as_of: Annotated[str | None, typer.Option(help="Count up to this date (YYYY-MM-DD)")] = None,
) -> None:
    """Each printed figure computed again from the events, mismatches first. Exits 1 when a
    figure does not reproduce, 2 on bad input."""
    settings = from_environment(CommonSettings)
    text = sys.stdin.read() if str(figures) == "-" else figures.read_text("utf-8-sig")
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError as error:
        typer.echo(f"error: --as-of {as_of!r}: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        found = asyncio.run(_reconciled(settings, department, fiscal_year, day, text))
    except UserInputError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    found.sort(key=lambda r: r.reproduces)  # mismatches first, stable
    table = Table("label", "metric", "printed", "computed", "difference", "reproduces")
    for r in found:
        shown = [r.label or "", r.metric, f"{r.printed} {r.unit}", r.computed or "—"]
        table.add_row(*shown, r.difference or "—", "yes" if r.reproduces else "NO")
    Console(width=120).print(table)
    mismatches = sum(not r.reproduces for r in found)
    typer.echo(f"{len(found) - mismatches} of {len(found)} printed figures reproduce")
    raise typer.Exit(1 if mismatches else 0)


async def _reconciled(
    settings: CommonSettings, department: str, year: int, day: date | None, text: str
) -> list[Reconciliation]:
    pool = await create_pool(settings.database_url)
    try:
        timezone = ZoneInfo(settings.timezone)
        today = datetime.now(timezone).date()
        key = DepartmentKey(department, year, day, False)
        printed = [PrintedFigure(**vars(p)) for p in from_csv(text)]
        return await reconciled(Context(pool, OPERATOR, today, timezone), key, printed)
    finally:
        await pool.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
