"""The self-evaluation table (docs/contract.md section 8): a budget line's 项目支出绩效自评表 or
a department's 部门整体支出绩效自评表, with its funds by source, its indicators and total."""

from __future__ import annotations

from datetime import date
from typing import Self

import strawberry
from strawberry.types import Info

from schemas.money import format_money
from services.common.projections import digest
from services.reporting import self_evaluation as tables
from services.reporting.errors import UserInputError
from services.reporting.evaluation import DepartmentKey, ScoredTarget
from services.reporting.loaders import Context
from services.reporting.names import FUNDING_SOURCES
from services.reporting.queries import notes
from services.reporting.types.indicators import Indicator
from services.reporting.types.signatures import Signature, signatures_of
from services.reporting.types.text import text


@strawberry.type(description="The funds of one funding source (资金来源)")
class SourceFunds:
    source: str = strawberry.field(
        description="appropriation 财政拨款, carryover 上年结转, special_account 财政专户管理资金, "
        "unit 单位资金 or other 其他资金"
    )
    source_name: str = strawberry.field(description="The source's name on the form")
    initial_budget: str = strawberry.field(description="年初预算数, yuan")
    adjusted_budget: str = strawberry.field(description="全年预算数, yuan")
    executed: str = strawberry.field(description="全年执行数 (spent), yuan")

    @classmethod
    def from_source(cls, s: tables.SourceFunds) -> Self:
        return cls(
            source=s.source,
            source_name=FUNDING_SOURCES.get(s.source, s.source),
            initial_budget=format_money(s.initial_budget),
            adjusted_budget=format_money(s.adjusted_budget),
            executed=format_money(s.executed),
        )


@strawberry.type(description="The table's funds (年度资金总额): budgets, execution and its score")
class Funds:
    initial_budget: str = strawberry.field(description="年初预算数 (Σ BudgetAuthorised), yuan")
    adjusted_budget: str = strawberry.field(description="全年预算数 (adjusted budget), yuan")
    executed: str = strawberry.field(description="全年执行数 (spent), yuan")
    execution_rate: str | None = strawberry.field(description="执行率, executed / adjusted")
    weight: str = strawberry.field(description="分值: budget execution is worth 10 points")
    score: str = strawberry.field(description="得分: 10 × min(executionRate, 1), half-up")
    by_source: list[SourceFunds] = strawberry.field(description="The same, by funding source")

    @classmethod
    def from_funds(cls, f: tables.Funds) -> Self:
        return cls(
            initial_budget=format_money(f.initial_budget),
            adjusted_budget=format_money(f.adjusted_budget),
            executed=format_money(f.executed),
            execution_rate=text(f.execution_rate),
            weight=str(f.weight),
            score=str(f.score),
            by_source=[SourceFunds.from_source(s) for s in f.by_source],
        )


@strawberry.type(description="An indicator of the table, with its deviation note")
class TableIndicator(Indicator):
    deviation_note: str | None = strawberry.field(
        default=None,
        description="偏差原因分析及改进措施: the evaluator's explanation of a deviation from the "
        "target (the latest explainDeviation); null until one is written",
    )

    @classmethod
    def noted(cls, scored: ScoredTarget, note: str | None) -> Self:
        indicator = cls.from_scored(scored)
        indicator.deviation_note = note
        return indicator


@strawberry.type(description="年度总体目标: the year's overall goal, as set and as achieved")
class Goal:
    expected: str | None = strawberry.field(description="预期目标; null until stated")
    actual: str | None = strawberry.field(description="实际完成情况; null until stated")


@strawberry.type(
    description="The national self-evaluation table: 项目支出绩效自评表 (a budget line) or "
    "部门整体支出绩效自评表 (a department)"
)
class SelfEvaluation:
    kind: str = strawberry.field(description="project (a line's table) or department")
    fiscal_year: int = strawberry.field(description="The fiscal year evaluated")
    as_of: date | None = strawberry.field(description="The date asked for; null means now")
    last_day: date = strawberry.field(description="The last day counted (asOf, or today)")
    title: str = strawberry.field(description="项目名称: the line's title, or 'X整体支出'")
    line_id: str | None = strawberry.field(description="The line of a project table")
    department_code: str = strawberry.field(description="The department's code")
    department: str = strawberry.field(description="主管部门: its registered name (else code)")
    implementing_units: list[str] = strawberry.field(
        description="实施单位: the units that spent the line's money (the owner while none "
        "has), or the department and the subunits included"
    )
    funds: Funds = strawberry.field(description="年度资金: budgets, execution, its 10 points")
    indicators: list[TableIndicator] = strawberry.field(
        description="The line's targets, or the department's own, scored"
    )
    goal: Goal = strawberry.field(description="年度总体目标, as set and as achieved")
    total: str = strawberry.field(description="总分: funds.score + Σ indicator scores")
    grade: str | None = strawberry.field(
        description="优 ≥ 90, 良 80–89.99, 中 60–79.99, 差 < 60 on total / (10 + Σ weights) × 100"
    )

    @strawberry.field(
        description="sha256 of the year's projection rows of the department (as "
        "projectionDigest): printed in the files' footers, it ties a copy to its events"
    )
    async def projection_digest(self, info: Info[Context, None]) -> str:
        async with info.context.pool.acquire() as conn:
            schema = await conn.fetchval("SELECT current_schema()")
            return await digest(conn, self.fiscal_year, self.department_code, schema)

    @strawberry.field(
        description="The signatures of this table's evaluation: a line's, or the department's "
        "and its lines'; each checked against the figures of its day as they stand now"
    )
    async def signatures(self, info: Info[Context, None]) -> list[Signature]:
        return await signatures_of(info.context, self.department_code, self.fiscal_year,
                                   self.line_id)  # fmt: skip

    @classmethod
    async def of(cls, context: Context, table: tables.SelfEvaluation) -> Self:
        names = await context.names.load_many([table.department, *table.units])
        codes = (table.department, *table.units)
        shown = [name or code for name, code in zip(names, codes, strict=True)]
        async with context.pool.acquire() as conn:
            explained = await notes.deviation_notes(conn, table.department, table.fiscal_year)
            goal = await notes.goal(conn, table.department, table.fiscal_year, table.line_id)
        return cls(
            kind=table.kind,
            fiscal_year=table.fiscal_year,
            as_of=table.as_of,
            last_day=table.day,
            title=table.title,
            line_id=table.line_id,
            department_code=table.department,
            department=shown[0],
            implementing_units=shown[1:],
            funds=Funds.from_funds(table.funds),
            indicators=[
                TableIndicator.noted(i, explained.get(i.target["target_id"]))
                for i in table.indicators
            ],
            goal=Goal(expected=None, actual=None) if goal is None else Goal(**goal),
            total=str(table.total),
            grade=table.grade,
        )


async def line_table(
    context: Context, fiscal_year: int, line_id: str, as_of: date | None
) -> tables.SelfEvaluation:
    """The project table of a line (the viewer must read its department)."""
    line = await context.lines.load((line_id, as_of))
    owner = line.line["department"]
    await context.readable(owner)
    if line.line["fiscal_year"] != fiscal_year:
        raise UserInputError(
            f"budget line {line_id!r} is of fiscal year {line.line['fiscal_year']}, "
            f"not {fiscal_year}"
        )
    funded = tables.funds(line.budget, await context.sources.load(((line_id,), line.day)))
    spenders = tuple(s.key for s in line.budget.by_spending_department)
    return tables.SelfEvaluation(
        kind="project",
        fiscal_year=fiscal_year,
        as_of=as_of,
        day=line.day,
        title=line.line["title"],
        line_id=line_id,
        department=owner,
        units=spenders or (owner,),
        funds=funded,
        indicators=line.scores.indicators,
    )


async def department_table(context: Context, key: DepartmentKey) -> tables.SelfEvaluation:
    """The whole-department table (the viewer must read the department)."""
    await context.readable(key.department)
    d = await context.departments.load(key)
    ids = await context.line_ids.load((d.codes, key.fiscal_year))
    funded = tables.funds(d.budget, await context.sources.load((tuple(ids), d.day)))
    return tables.SelfEvaluation(
        kind="department",
        fiscal_year=key.fiscal_year,
        as_of=key.as_of,
        day=d.day,
        title=f"{d.registered['name'] or key.department}整体支出",
        line_id=None,
        department=key.department,
        units=d.codes,
        funds=funded,
        indicators=d.scores.indicators,
    )
