"""Figures over time: the months of a year, the changes against the previous year."""

from __future__ import annotations

from typing import Self

import strawberry

from schemas.money import format_money
from services.reporting.evaluation import Change, MonthPoint
from services.reporting.types.text import plain_or_none, text


@strawberry.type(description="One month of a fiscal year: the month's flows and the totals so far")
class MonthlyPoint:
    month: str = strawberry.field(description="YYYY-MM")
    arrived_in_month: str = strawberry.field(description="Funds arrived in the month")
    spent_in_month: str = strawberry.field(description="Spent in the month")
    accepted_in_month: int = strawberry.field(description="Cases accepted in the month")
    closed_in_month: int = strawberry.field(description="Cases closed in the month")
    adjusted_budget: str = strawberry.field(description="Adjusted budget at the month's end")
    arrived: str = strawberry.field(description="Arrived by the month's end")
    spent: str = strawberry.field(description="Spent by the month's end")
    arrival_rate: str | None = strawberry.field(description="arrived / adjusted_budget, cumulative")
    execution_rate: str | None = strawberry.field(description="spent / adjusted_budget, cumulative")
    accepted: int = strawberry.field(description="Accepted by the month's end")
    closed: int = strawberry.field(description="Closed by the month's end")
    closure_rate: str | None = strawberry.field(description="closed / accepted, cumulative")

    @classmethod
    def from_point(cls, p: MonthPoint) -> Self:
        return cls(
            month=p.month,
            arrived_in_month=format_money(p.arrived_in_month),
            spent_in_month=format_money(p.spent_in_month),
            accepted_in_month=p.accepted_in_month,
            closed_in_month=p.closed_in_month,
            adjusted_budget=format_money(p.adjusted_budget),
            arrived=format_money(p.arrived),
            spent=format_money(p.spent),
            arrival_rate=text(p.arrival_rate),
            execution_rate=text(p.execution_rate),
            accepted=p.accepted,
            closed=p.closed,
            closure_rate=text(p.closure_rate),
        )


@strawberry.type(description="One metric this year and the year before")
class MetricChange:
    metric: str = strawberry.field(description="The metric's contract name (snake_case)")
    current: str | None = strawberry.field(description="This year's value")
    previous: str | None = strawberry.field(description="The previous year's value")
    change: str | None = strawberry.field(
        description="current − previous (for a rate: the difference of the two fractions, "
        "0.0173 is 1.73 percentage points); null when either is null"
    )
    change_rate: str | None = strawberry.field(
        description="change / previous for amounts and counts (e.g. -0.2600 is 26 % less); "
        "null for rates and when previous is 0 or null"
    )

    @classmethod
    def from_change(cls, c: Change) -> Self:
        return cls(
            metric=c.metric,
            current=plain_or_none(c.current),
            previous=plain_or_none(c.previous),
            change=plain_or_none(c.change),
            change_rate=text(c.change_rate),
        )
