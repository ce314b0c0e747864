"""Departments, and the evaluations of departments and budget lines."""

from __future__ import annotations

from datetime import date
from typing import Self

import strawberry
from strawberry.types import Info

from services.reporting.access import Scope
from services.reporting.evaluation import DepartmentFigures, LineFigures, Row, year_over_year
from services.reporting.loaders import Context
from services.reporting.types.budget import BudgetMetrics, ProcurementMetrics
from services.reporting.types.cases import CaseMetrics
from services.reporting.types.indicators import Indicator, Output, scored_fields
from services.reporting.types.signatures import Signature, signatures_of
from services.reporting.types.trends import MetricChange, MonthlyPoint


@strawberry.type(description="A budget unit (部门/单位)")
class Department:
    code: str = strawberry.field(description="Department code")
    name: str | None = strawberry.field(description="Registered name; null if unregistered")
    parent: str | None = strawberry.field(description="The unit it belongs to, if registered")
    headcount_authorised: int | None = strawberry.field(description="核定编制")
    headcount_actual: int | None = strawberry.field(description="实有人数")

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return cls(**row)


@strawberry.type(description="The budget metrics of one budget line, as of a date")
class LineEvaluation(BudgetMetrics):
    line_id: str = strawberry.field(description="Budget line id")
    department: str = strawberry.field(description="The department owning the line")
    title: str = strawberry.field(description="As authorised")
    category: str = strawberry.field(description="basic (基本支出) or project (项目支出)")
    fiscal_year: int = strawberry.field(description="The line's fiscal year")
    as_of: date | None = strawberry.field(description="The date asked for; null means now")
    outputs: list[Output] = strawberry.field(description="Outputs recorded on this line")
    indicators: list[Indicator] = strawberry.field(description="This line's targets, scored")
    score: str | None = strawberry.field(description="Σ indicator scores; null without targets")
    grade: str | None = strawberry.field(description="优, 良, 中 or 差; null without targets")

    @classmethod
    def from_figures(cls, e: LineFigures) -> Self:
        line = e.line
        return cls(
            **{k: line[k] for k in ("line_id", "department", "title", "category", "fiscal_year")},
            as_of=e.as_of,
            **cls.values(e.budget),
            **scored_fields(e.outputs, e.scores),
        )


@strawberry.type(description="The evaluation of one department for a fiscal year, as of a date")
class DepartmentEvaluation:
    department: str = strawberry.field(description="Department code")
    name: str | None = strawberry.field(description="Registered name; null if unregistered")
    fiscal_year: int = strawberry.field(description="The fiscal year evaluated")
    subunits: list[str] = strawberry.field(
        description="The subordinate units included (includeSubunits), empty otherwise"
    )
    as_of: date | None = strawberry.field(description="The date asked for; null means now")
    headcount_authorised: int | None = strawberry.field(description="核定编制, if registered")
    headcount_actual: int | None = strawberry.field(description="实有人数, if registered")
    budget: BudgetMetrics = strawberry.field(description="Budget metrics of its own lines")
    procurement: ProcurementMetrics = strawberry.field(description="Procurement on its lines")
    cases: CaseMetrics = strawberry.field(description="Cases of its case platform")
    outputs: list[Output] = strawberry.field(description="Outputs recorded up to the date")
    indicators: list[Indicator] = strawberry.field(
        description="The department's own targets (without line_id), scored"
    )
    score: str | None = strawberry.field(description="Σ indicator scores; null without targets")
    grade: str | None = strawberry.field(
        description="优 ≥ 90, 良 80–89.99, 中 60–79.99, 差 < 60 on score / Σ weight × 100"
    )
    figures: strawberry.Private[DepartmentFigures]  # what it shows, and what it was asked
    scope: strawberry.Private[Scope]  # what the viewer may see of its lists

    @classmethod
    def from_figures(cls, e: DepartmentFigures, scope: Scope) -> Self:
        return cls(
            department=e.key.department,
            name=e.registered["name"],
            fiscal_year=e.key.fiscal_year,
            subunits=scope.visible(e.codes[1:]),
            as_of=e.key.as_of,
            headcount_authorised=e.registered["headcount_authorised"],
            headcount_actual=e.registered["headcount_actual"],
            budget=BudgetMetrics.from_budget(e.budget),
            procurement=ProcurementMetrics.from_procurement(e.procurement),
            cases=CaseMetrics.from_breakdown(e.cases, scope),
            **scored_fields(e.outputs, e.scores),
            figures=e,
            scope=scope,
        )

    @strawberry.field(
        description="The same evaluation of the previous fiscal year, as of the same day a "
        "year earlier (29 Feb: 28 Feb); null when that year has no data"
    )
    async def previous_year(self, info: Info[Context, None]) -> DepartmentEvaluation | None:
        previous = await info.context.previous_year(self.figures.key)
        return None if previous is None else DepartmentEvaluation.from_figures(previous, self.scope)

    @strawberry.field(
        description="Every scalar metric (budget, procurement, cases) and the score against "
        "the previous fiscal year as of the same day a year earlier; empty when that year has "
        "no data"
    )
    async def year_over_year(self, info: Info[Context, None]) -> list[MetricChange]:
        previous = await info.context.previous_year(self.figures.key)
        if previous is None:
            return []
        changes = year_over_year(self.figures.metrics, previous.metrics)
        return [MetricChange.from_change(c) for c in changes]

    @strawberry.field(
        description="The signatures of this department's evaluations of the year and of its "
        "lines', each checked against the figures of its day as they stand now"
    )
    async def signatures(self, info: Info[Context, None]) -> list[Signature]:
        return await signatures_of(info.context, self.department, self.fiscal_year)

    @strawberry.field(
        description="January to the month of the date: for arrival, spending and closure curves"
    )
    async def monthly(self, info: Info[Context, None]) -> list[MonthlyPoint]:
        e = self.figures
        points = await info.context.monthly.load((e.codes, e.key.fiscal_year, e.day))
        return [MonthlyPoint.from_point(p) for p in points]

    @strawberry.field(
        description="The department's budget lines of the year, each evaluated (project "
        "self-evaluations)"
    )
    async def lines(self, info: Info[Context, None]) -> list[LineEvaluation]:
        e = self.figures
        ids = await info.context.line_ids.load((e.codes, e.key.fiscal_year))
        found = await info.context.lines.load_many([(line_id, e.key.as_of) for line_id in ids])
        return [LineEvaluation.from_figures(line) for line in found]
