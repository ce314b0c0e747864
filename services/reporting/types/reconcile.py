"""Printed figures and their reconciliation with the events (docs/contract.md section 9)."""

from __future__ import annotations

import asyncio
from typing import Self

import strawberry

from services.reporting import reconcile as check
from services.reporting.errors import UserInputError
from services.reporting.evaluation import DepartmentKey, metric_values
from services.reporting.loaders import Context

MAX_PRINTED = 500


@strawberry.input(description="A figure as a report prints it")
class PrintedFigure:
    metric: str = strawberry.field(
        description="A metric of docs/contract.md section 4, e.g. closure_rate, spent, accepted"
    )
    value: str = strawberry.field(description='As printed, e.g. "98.46", "390.79", "452,034"')
    unit: str = strawberry.field(
        description="percent, fraction (rates); yuan, wan_yuan (万元; money); count"
    )
    line_id: str | None = strawberry.field(
        default=None, description="The budget line it is a figure of; none: the department's"
    )
    label: str | None = strawberry.field(
        default=None, description="How the report names it, e.g. 结案率"
    )


@strawberry.type(description="A printed figure against the one its events give")
class Reconciliation:
    metric: str = strawberry.field(description="The metric printed")
    label: str | None = strawberry.field(description="How the report names it")
    line_id: str | None = strawberry.field(description="Its budget line; none: the department")
    unit: str = strawberry.field(description="The printed unit")
    printed: str = strawberry.field(description="The value as printed")
    computed: str | None = strawberry.field(
        description="The figure from the events in the printed unit, at the printed number of "
        "decimals, rounded half-up; null for a rate whose denominator is 0"
    )
    reproduces: bool = strawberry.field(description="printed == computed")
    difference: str | None = strawberry.field(description="printed − computed, in the printed unit")

    @classmethod
    def of(cls, found: check.Reconciliation) -> Self:
        p = found.printed
        return cls(
            metric=p.metric,
            label=p.label,
            line_id=p.line_id,
            unit=p.unit,
            printed=p.value,
            computed=None if found.computed is None else str(found.computed),
            reproduces=found.reproduces,
            difference=None if found.difference is None else str(found.difference),
        )


async def reconciled(
    context: Context, key: DepartmentKey, printed: list[PrintedFigure]
) -> list[Reconciliation]:
    """Each printed figure, in the order given, against the department's evaluation (or its
    line's) as of the key's date; the lines must be the department's, of its year."""
    if len(printed) > MAX_PRINTED:
        raise UserInputError(f"printed has {len(printed)} figures, more than {MAX_PRINTED}")
    await context.readable(key.department)
    department = await context.departments.load(key)
    asked = sorted({p.line_id for p in printed if p.line_id is not None})
    found = await asyncio.gather(*(context.lines.load((line, key.as_of)) for line in asked))
    lines = {}
    for line_id, figures in zip(asked, found, strict=True):
        row = figures.line
        if (row["department"], row["fiscal_year"]) != (key.department, key.fiscal_year):
            raise UserInputError(
                f"lineId {line_id!r} is a line of {row['department']} in {row['fiscal_year']}, "
                f"not of {key.department} in {key.fiscal_year}"
            )
        lines[line_id] = metric_values(figures.budget)
    return [
        Reconciliation.of(
            check.reconcile(
                check.Printed(p.metric, p.value, p.unit, p.line_id, p.label),
                department.metrics if p.line_id is None else lines[p.line_id],
                f"printed[{i}]",
            )
        )
        for i, p in enumerate(printed)
    ]
