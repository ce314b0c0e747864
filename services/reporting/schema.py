"""The GraphQL surface (docs/contract.md section 5): the queries. The types are in
services/reporting/types, the per-request DataLoaders in loaders.py, the arithmetic in
evaluation.py."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import Info

from services.common.projections import digest
from services.reporting.access import ALL, ROLES
from services.reporting.errors import UserInputError
from services.reporting.evaluation import DepartmentKey
from services.reporting.evidence import MAX_FIRST
from services.reporting.loaders import Context, evaluate_assessment
from services.reporting.mutations import Mutation
from services.reporting.observe import NamesOperation
from services.reporting.policy import QueryLimits
from services.reporting.queries import audit
from services.reporting.queries import departments as department_queries
from services.reporting.types.assessment import Assessment
from services.reporting.types.audit import OperatorAction
from services.reporting.types.evaluations import (
    Department,
    DepartmentEvaluation,
    LineEvaluation,
)
from services.reporting.types.evidence import Asked, EvidenceConnection, evidence
from services.reporting.types.reconcile import PrintedFigure, Reconciliation, reconciled
from services.reporting.types.self_evaluation import (
    SelfEvaluation,
    department_table,
    line_table,
)

__all__ = ["Context", "Query", "build_schema"]

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
        scope = await info.context.readable(department)  # its subunits are in scope too
        key = DepartmentKey(department, fiscal_year, as_of, include_subunits)
        return DepartmentEvaluation.from_figures(await info.context.departments.load(key), scope)

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
        scope = await info.context.readable(department)
        async with info.context.pool.acquire() as conn:
            bulletin = await evaluate_assessment(conn, department, fiscal_year, month, as_of)
        return Assessment.from_bulletin(bulletin, scope)

    @strawberry.field(
        description="sha256 of a fiscal year's projection rows (one department's, when given), "
        "as `performance digest` prints it: a year replayed from the ledger's events has the "
        "same digest as the live projections it replaced; without department, the token "
        "must cover all departments"
    )
    async def projection_digest(
        self,
        info: Info[Context, None],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        department: Annotated[
            str | None, strawberry.argument(description="Only this department's rows")
        ] = None,
    ) -> str | None:
        info.context.viewer.require_role(ROLES, "projectionDigest")
        (await info.context.scope()).require(ALL if department is None else department)
        async with info.context.pool.acquire() as conn:
            projections = await conn.fetchval("SELECT current_schema()")
            return await digest(conn, fiscal_year, department, projections)

    @strawberry.field(
        description="Departments with data (in a fiscal year, when given), those the token may see"
    )
    async def departments(
        self,
        info: Info[Context, None],
        fiscal_year: Annotated[
            int | None, strawberry.argument(description="Only those with data in this year")
        ] = None,
    ) -> list[Department]:
        scope = await info.context.scope()
        async with info.context.pool.acquire() as conn:
            rows = await department_queries.listed(conn, fiscal_year)
        return [Department.from_row(row) for row in rows if scope.sees(row["code"])]

    @strawberry.field(
        description="The national self-evaluation table: give lineId for a line's "
        "项目支出绩效自评表, department for the 部门整体支出绩效自评表 (its "
        "department-level indicators and the funds of its lines, and its subunits' with "
        "includeSubunits)"
    )
    async def self_evaluation(
        self,
        info: Info[Context, None],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        line_id: Annotated[str | None, strawberry.argument(description="A budget line")] = None,
        department: Annotated[
            str | None, strawberry.argument(description="A department code")
        ] = None,
        as_of: Annotated[date | None, AS_OF] = None,
        include_subunits: Annotated[
            bool, strawberry.argument(description="The department's subunits too")
        ] = False,
    ) -> SelfEvaluation | None:  # nullable: other fields still answer
        if (line_id is None) == (department is None):
            raise UserInputError(
                "selfEvaluation takes lineId (a project table) or department (the "
                "whole-department table): exactly one of them"
            )
        if line_id is not None:
            table = await line_table(info.context, fiscal_year, line_id, as_of)
        else:
            assert department is not None
            key = DepartmentKey(department, fiscal_year, as_of, include_subunits)
            table = await department_table(info.context, key)
        return await SelfEvaluation.of(info.context, table)

    @strawberry.field(
        description="A report's printed figures checked against the events: each computed again "
        "in its unit, at its printed precision, half-up (docs/contract.md section 9); in the "
        "order given"
    )
    async def reconcile(
        self,
        info: Info[Context, None],
        department: Annotated[str, strawberry.argument(description="Department code")],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        printed: Annotated[
            list[PrintedFigure], strawberry.argument(description="The figures, as printed")
        ],
        as_of: Annotated[date | None, AS_OF] = None,
    ) -> list[Reconciliation]:
        key = DepartmentKey(department, fiscal_year, as_of, False)
        return await reconciled(info.context, key, printed)

    @strawberry.field(
        description="The accepted events behind a figure (docs/contract.md section 7), in "
        "ledger order: for money Σ amount is the figure, for a count totalCount is"
    )
    async def evidence(
        self,
        info: Info[Context, None],
        department: Annotated[str, strawberry.argument(description="Department code")],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        metric: Annotated[
            str,
            strawberry.argument(
                description="A figure's field name: arrived, spent, adjustedBudget, closed, "
                "closedOnTime, due, overdue, ... (a rate has none: ask its numerator and "
                "its denominator)"
            ),
        ],
        as_of: Annotated[date | None, AS_OF] = None,
        line_id: Annotated[
            str | None, strawberry.argument(description="A budget line's figure instead")
        ] = None,
        include_subunits: Annotated[
            bool, strawberry.argument(description="The department's subunits too")
        ] = False,
        first: Annotated[
            int, strawberry.argument(description=f"At most this many (1-{MAX_FIRST})")
        ] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="The previous page's endCursor")
        ] = None,
    ) -> EvidenceConnection | None:  # nullable: other fields still answer
        key = DepartmentKey(department, fiscal_year, as_of, include_subunits)
        return await evidence(info.context, Asked(key, metric, line_id, first, after))

    @strawberry.field(description="Budget metrics of one line, as of a date")
    async def line_evaluation(
        self,
        info: Info[Context, None],
        line_id: Annotated[str, strawberry.argument(description="Budget line id")],
        as_of: Annotated[date | None, AS_OF] = None,
    ) -> LineEvaluation | None:  # nullable (docs/contract.md): other fields still answer
        figures = await info.context.lines.load((line_id, as_of))
        await info.context.readable(figures.line["department"])
        return LineEvaluation.from_figures(figures)

    @strawberry.field(
        description="What operators did with the CLIs (resubmitted rejections, republished "
        "the journal, replayed a year): who, when, with what, and how it ended; newest first. "
        "For auditors; actions without a department need a token covering all departments"
    )
    async def operator_actions(
        self,
        info: Info[Context, None],
        fiscal_year: Annotated[
            int | None, strawberry.argument(description="Only this fiscal year")
        ] = None,
        first: Annotated[int, strawberry.argument(description="At most this many (1-1000)")] = 100,
    ) -> list[OperatorAction]:
        info.context.viewer.require_role(frozenset({"auditor"}), "operatorActions")
        if not 1 <= first <= 1000:
            raise UserInputError(f"first {first} is not between 1 and 1000")
        scope = await info.context.scope()
        async with info.context.pool.acquire() as conn:
            rows = await audit.actions(conn, fiscal_year, scope.codes, first)
        return [OperatorAction.from_row(row) for row in rows]


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Logged by ToldOrMasked (policy.py): user errors in one line, faults with their
        stack trace under the id the client is given."""


def build_schema(limits: QueryLimits) -> strawberry.Schema:
    """The schema with its extensions, each given as a factory: strawberry makes a fresh
    instance per request (an instance shared by concurrent requests would read another's
    state). Evaluators send the same few queries again and again: the parse and validation
    caches live at module level in strawberry, shared by those instances."""
    return Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            partial(ParserCache, maxsize=256),
            partial(ValidationCache, maxsize=256),
            *limits.extensions(),
            NamesOperation,  # for the access log and graphql_request_seconds
        ],
    )
