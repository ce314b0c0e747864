"""Signed evaluations (docs/contract.md section 9): who signed which figures as of which day,
and whether later events have changed them since."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from services.reporting.evaluation import DepartmentKey, metric_values
from services.reporting.loaders import Context
from services.reporting.queries import notes


def shown(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


async def figures_of(
    context: Context, key: DepartmentKey, line_id: str | None
) -> dict[str, str | None]:
    """The figures a signature keeps: every scalar metric (and the score) of the department's
    evaluation as of the key's day, or of its line's, as GraphQL shows them."""
    if line_id is None:
        metrics = (await context.departments.load(key)).metrics
    else:
        metrics = metric_values((await context.lines.load((line_id, key.as_of))).budget)
    return {name: shown(value) for name, value in metrics.items()}


@strawberry.type(description="A figure that changed since it was signed")
class FigureChange:
    metric: str = strawberry.field(description="The metric, snake_case (e.g. spent)")
    signed: str | None = strawberry.field(description="As signed")
    current: str | None = strawberry.field(description="As the events give it now")


@strawberry.type(description="An evaluation signed as of a day, with the digest of its figures")
class Signature:
    signer: str = strawberry.field(description="Who signed: the token's subject")
    signed_at: datetime = strawberry.field(description="When")
    as_of: date = strawberry.field(description="The day the signed figures count up to")
    line_id: str | None = strawberry.field(
        description="A line's evaluation; null: the department's"
    )
    digest: str = strawberry.field(description="sha256 of the signed figures")
    figures_changed: bool = strawberry.field(
        description="Later events (a late payment, a reversal) changed a figure of that day"
    )
    changes: list[FigureChange] = strawberry.field(
        description="Which figures changed, from what to what"
    )


async def signatures_of(
    context: Context, department: str, fiscal_year: int, line_id: str | None = None
) -> list[Signature]:
    """The signatures of a department's year (its own and its lines') or of one line, each
    checked against the figures of its day as they stand now."""
    async with context.pool.acquire() as conn:
        rows = await notes.signatures(conn, department, fiscal_year, line_id)
    return [await _checked(context, department, fiscal_year, row) for row in rows]


async def _checked(
    context: Context, department: str, fiscal_year: int, row: dict[str, Any]
) -> Signature:
    line = row["line_id"] or None
    key = DepartmentKey(department, fiscal_year, row["as_of"], False)
    current, signed = await figures_of(context, key, line), row["figures"]
    changes = [
        FigureChange(metric=name, signed=signed.get(name), current=current.get(name))
        for name in sorted(signed.keys() | current.keys())
        if signed.get(name) != current.get(name)
    ]
    return Signature(
        signer=row["signer"], signed_at=row["signed_at"], as_of=row["as_of"], line_id=line,
        digest=row["digest"], figures_changed=bool(changes), changes=changes,
    )  # fmt: skip
