"""The GraphQL surface (docs/contract.md section 5): the queries. The types are in
services/reporting/types, the per-request DataLoaders in loaders.py, the arithmetic in
evaluation.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import Info

from services.common.projections import digest
from services.reporting.evaluation import DepartmentKey
from services.reporting.loaders import Context, evaluate_assessment
from services.reporting.queries import departments as department_queries
from services.reporting.types.assessment import Assessment
from services.reporting.types.evaluations import (
    Department,
    DepartmentEvaluation,
    LineEvaluation,
)

__all__ = ["Context", "Query", "schema"]

AS_OF = strawberry.argument(
    description="Count events up to the end of this day (Asia/Shanghai by default); "
    "absent: now. Must lie in the fiscal year."
)


@strawberry.type(description="Evaluations of departments and budget lines")
class Query:
    @strawberry.field(description="Evaluation of a department for a fiscal year, as of a date")
    async def department_evaluation(
        self,
        info: Info[Context, None],
        department: Annotated[str, strawberry.argument(description="Department code")],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        as_of: Annotated[date | None, AS_OF] = None,
        include_subunits: Annotated[
            bool,
            strawberry.argument(
                description="Add the lines, spending, cases and outputs of every subordinate "
                "unit (registered with this department as parent, at any depth); targets stay "
                "the department's own"
            ),
        ] = False,
    ) -> DepartmentEvaluation | None:  # nullable (docs/contract.md): other fields still answer
        key = DepartmentKey(department, fiscal_year, as_of, include_subunits)
        return DepartmentEvaluation.from_figures(await info.context.departments.load(key))

    @strawberry.field(
        description="The monthly assessment (月考核) of the streets and departments a "
        "platform dispatches its cases to, ranked by the scheme in force, with the change "
        "against the month before; without month, the year-end review (年总评) against the "
        "previous year"
    )
    async def assessment(
        self,
        info: Info[Context, None],
        department: Annotated[
            str, strawberry.argument(description="The platform-owning department")
        ],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        month: Annotated[
            int | None, strawberry.argument(description="1-12; absent: the whole year")
        ] = None,
        as_of: Annotated[
            date | None,
            strawberry.argument(
                description="A day inside the period, for the figures so far; absent or "
                "later: the period's last day (a past period's bulletin does not change)"
            ),
        ] = None,
    ) -> Assessment | None:
        async with info.context.pool.acquire() as conn:
            bulletin = await evaluate_assessment(conn, department, fiscal_year, month, as_of)
        return Assessment.from_bulletin(bulletin)

    @strawberry.field(
        description="sha256 of a fiscal year's projection rows (one department's, when given), "
        "as `performance digest` prints it: a year replayed from the ledger's events has the "
        "same digest as the live projections it replaced"
    )
    async def projection_digest(
        self,
        info: Info[Context, None],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        department: Annotated[
            str | None, strawberry.argument(description="Only this department's rows")
        ] = None,
    ) -> str:
        async with info.context.pool.acquire() as conn:
            projections = await conn.fetchval("SELECT current_schema()")
            return await digest(conn, fiscal_year, department, projections)

    @strawberry.field(description="Departments with data (in a fiscal year, when given)")
    async def departments(
        self,
        info: Info[Context, None],
        fiscal_year: Annotated[
            int | None, strawberry.argument(description="Only those with data in this year")
        ] = None,
    ) -> list[Department]:
        async with info.context.pool.acquire() as conn:
            rows = await department_queries.listed(conn, fiscal_year)
        return [Department.from_row(row) for row in rows]

    @strawberry.field(description="Budget metrics of one line, as of a date")
    async def line_evaluation(
        self,
        info: Info[Context, None],
        line_id: Annotated[str, strawberry.argument(description="Budget line id")],
        as_of: Annotated[date | None, AS_OF] = None,
    ) -> LineEvaluation | None:  # nullable (docs/contract.md): other fields still answer
        return LineEvaluation.from_figures(await info.context.lines.load((line_id, as_of)))


# Evaluators send the same few queries again and again: parse and validate each once.
# (instances, as strawberry's docs show: one cache for all requests; its type hints want
# classes, which would make a new, empty cache per request)
schema = strawberry.Schema(
    query=Query,
    extensions=[ParserCache(maxsize=256), ValidationCache(maxsize=256)],  # type: ignore[list-item]
)
