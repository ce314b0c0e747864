"""The GraphQL surface (CONTRACT.md section 5). Money and rates are exact decimal strings;
rates are rounded half-up to 4 places and null when their denominator is zero."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import strawberry
from strawberry.types import Info

from schemas.money import format_money, rate
from services.reporting import queries
from services.reporting.queries import END_OF_TIME


@dataclass
class Context:
    pool: asyncpg.Pool


def _rate(numerator: Decimal | int, denominator: Decimal | int) -> str | None:
    value = rate(numerator, denominator)
    return None if value is None else str(value)


@strawberry.type(description="Spending of one budget category (basic 基本支出 / project 项目支出)")
class CategorySpending:
    category: str
    spent: str
    share: str | None = strawberry.field(description="Share of total spent")


@strawberry.type(description="Spending of one economic class (301 wages, 302 goods, ...)")
class EconomicClassSpending:
    economic_class: str
    spent: str
    share: str | None = strawberry.field(description="Share of total spent")


@strawberry.type(description="Budget metrics as of a date (CONTRACT.md section 4)")
class BudgetMetrics:
    initial_budget: str = strawberry.field(description="Σ BudgetAuthorised")
    adjusted_budget: str = strawberry.field(description="initial + Σ BudgetAdjusted")
    arrived: str = strawberry.field(description="Σ FundsArrived (资金到位)")
    transferred: str = strawberry.field(description="Σ FundsTransferred (下拨)")
    spent: str = strawberry.field(description="Σ Disbursed − reversed")
    balance: str = strawberry.field(description="adjusted_budget − spent")
    arrival_rate: str | None = strawberry.field(description="arrived / adjusted_budget")
    execution_rate: str | None = strawberry.field(description="spent / adjusted_budget")
    spent_of_arrived_rate: str | None = strawberry.field(description="spent / arrived")
    by_category: list[CategorySpending]
    by_economic_class: list[EconomicClassSpending]


def budget_fields(
    sums: dict[str, Decimal],
    by_category: list[tuple[str, Decimal]],
    by_economic_class: list[tuple[str, Decimal]],
) -> dict[str, Any]:
    adjusted, arrived, spent = sums["adjusted_budget"], sums["arrived"], sums["spent"]
    return {
        "initial_budget": format_money(sums["initial_budget"]),
        "adjusted_budget": format_money(adjusted),
        "arrived": format_money(arrived),
        "transferred": format_money(sums["transferred"]),
        "spent": format_money(spent),
        "balance": format_money(adjusted - spent),
        "arrival_rate": _rate(arrived, adjusted),
        "execution_rate": _rate(spent, adjusted),
        "spent_of_arrived_rate": _rate(spent, arrived),
        "by_category": [
            CategorySpending(category=c, spent=format_money(s), share=_rate(s, spent))
            for c, s in by_category
        ],
        "by_economic_class": [
            EconomicClassSpending(economic_class=c, spent=format_money(s), share=_rate(s, spent))
            for c, s in by_economic_class
        ],
    }


@strawberry.type(description="Procurement (政府采购) as of a date")
class ProcurementMetrics:
    planned: str
    contracted: str
    procurement_execution_rate: str | None = strawberry.field(description="contracted / planned")


@strawberry.type(description="Case counts and rates (受理, 立案, 派遣, 处置, 结案)")
class CaseCounts:
    reported: int
    accepted: int
    filed: int
    dispatched: int
    disposed: int
    closed: int
    closed_on_time: int = strawberry.field(description="Closed at or before its deadline_at")
    due: int = strawberry.field(
        description="Filed cases whose deadline is on or before the date, plus filed cases "
        "already closed by then whose deadline is later"
    )
    open: int = strawberry.field(description="Accepted and not closed by the date (积压)")
    overdue: int = strawberry.field(description="Open, with its deadline on or before the date")
    advance_disposals: int = strawberry.field(description="先行处置")
    filing_rate: str | None = strawberry.field(description="filed / accepted (立案率)")
    dispatch_rate: str | None = strawberry.field(description="dispatched / filed (派遣率)")
    disposal_rate: str | None = strawberry.field(description="disposed / dispatched (处置率)")
    closure_rate: str | None = strawberry.field(description="closed / accepted (结案率)")
    closure_rate_due: str | None = strawberry.field(
        description="filed cases closed by the date / due"
    )
    on_time_rate: str | None = strawberry.field(description="closed_on_time / due (按期结案率)")


def case_fields(counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "reported": counts["reported"],
        "accepted": counts["accepted"],
        "filed": counts["filed"],
        "dispatched": counts["dispatched"],
        "disposed": counts["disposed"],
        "closed": counts["closed"],
        "closed_on_time": counts["closed_on_time"],
        "due": counts["due"],
        "open": counts["accepted"] - counts["closed_accepted"],
        "overdue": counts["overdue"],
        "advance_disposals": counts["advance_disposals"],
        "filing_rate": _rate(counts["filed"], counts["accepted"]),
        "dispatch_rate": _rate(counts["dispatched"], counts["filed"]),
        "disposal_rate": _rate(counts["disposed"], counts["dispatched"]),
        "closure_rate": _rate(counts["closed"], counts["accepted"]),
        "closure_rate_due": _rate(counts["closed_filed"], counts["due"]),
        "on_time_rate": _rate(counts["closed_on_time"], counts["due"]),
    }


@strawberry.type(description="Cases of one reporting channel")
class ChannelCases(CaseCounts):
    channel: str


@strawberry.type(description="Cases of one category (e.g. 占道经营)")
class CategoryCases(CaseCounts):
    category: str


@strawberry.type(description="Cases of one kind: event 事件 or component 部件")
class KindCases(CaseCounts):
    kind: str


@strawberry.type(description="Case metrics of a department, with breakdowns")
class CaseMetrics(CaseCounts):
    by_channel: list[ChannelCases]
    by_category: list[CategoryCases]
    by_kind: list[KindCases]


@strawberry.type(description="The evaluation of one department for a fiscal year, as of a date")
class DepartmentEvaluation:
    department: str
    name: str | None
    fiscal_year: int
    as_of: date | None = strawberry.field(description="The date asked for; null means now")
    budget: BudgetMetrics
    procurement: ProcurementMetrics
    cases: CaseMetrics


@strawberry.type(description="The budget metrics of one budget line, as of a date")
class LineEvaluation(BudgetMetrics):
    line_id: str
    department: str
    title: str
    category: str
    fiscal_year: int
    as_of: date | None


def _as_of(as_of: date | None, fiscal_year: int) -> date:
    if as_of is None:
        return END_OF_TIME
    if as_of.year != fiscal_year:
        raise ValueError(
            f"asOf {as_of.isoformat()} is outside fiscal year {fiscal_year} "
            f"({fiscal_year}-01-01 to {fiscal_year}-12-31)"
        )
    return as_of


def _case_metrics(grouped: dict[str, list[dict[str, Any]]]) -> CaseMetrics:
    totals = {
        c: sum(row[c] for row in grouped["kind"]) for c in (*queries.CASE_COUNTS, "due", "overdue")
    }
    return CaseMetrics(
        **case_fields(totals),
        by_channel=[ChannelCases(channel=r["value"], **case_fields(r)) for r in grouped["channel"]],
        by_category=[
            CategoryCases(category=r["value"], **case_fields(r)) for r in grouped["category"]
        ],
        by_kind=[KindCases(kind=r["value"], **case_fields(r)) for r in grouped["kind"]],
    )


@strawberry.type
class Query:
    @strawberry.field(description="Evaluation of a department for a fiscal year, as of a date")
    async def department_evaluation(
        self,
        info: Info[Context, None],
        department: str,
        fiscal_year: int,
        as_of: date | None = None,
    ) -> DepartmentEvaluation:
        day = _as_of(as_of, fiscal_year)
        async with info.context.pool.acquire() as conn:
            dep = await queries.department(conn, department)
            if dep is None:
                raise ValueError(f"unknown department {department!r}")
            if not await queries.has_year(conn, department, fiscal_year):
                raise ValueError(
                    f"department {department!r} has no data for fiscal year {fiscal_year}"
                )
            budget = await queries.department_budget(conn, department, fiscal_year, day)
            cases = await queries.department_cases(conn, department, fiscal_year, day)
        sums = budget["sums"]
        return DepartmentEvaluation(
            department=department,
            name=dep["name"],
            fiscal_year=fiscal_year,
            as_of=as_of,
            budget=BudgetMetrics(
                **budget_fields(sums, budget["by_category"], budget["by_economic_class"])
            ),
            procurement=ProcurementMetrics(
                planned=format_money(sums["procurement_planned"]),
                contracted=format_money(sums["contracted"]),
                procurement_execution_rate=_rate(sums["contracted"], sums["procurement_planned"]),
            ),
            cases=_case_metrics(cases),
        )

    @strawberry.field(description="Budget metrics of one line, as of a date")
    async def line_evaluation(
        self, info: Info[Context, None], line_id: str, as_of: date | None = None
    ) -> LineEvaluation:
        async with info.context.pool.acquire() as conn:
            line = await queries.line(conn, line_id)
            if line is None:
                raise ValueError(f"unknown budget line {line_id!r}")
            day = _as_of(as_of, line["fiscal_year"])
            budget = await queries.line_budget(conn, line_id, day)
        by_category = [(line["category"], budget["sums"]["spent"])]
        return LineEvaluation(
            line_id=line_id,
            department=line["department"],
            title=line["title"],
            category=line["category"],
            fiscal_year=line["fiscal_year"],
            as_of=as_of,
            **budget_fields(budget["sums"], by_category, budget["by_economic_class"]),
        )


schema = strawberry.Schema(query=Query)
