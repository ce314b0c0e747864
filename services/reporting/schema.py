"""The GraphQL surface (CONTRACT.md section 5). Money and rates are exact decimal strings;
rates are rounded half-up to 4 places and null when their denominator is zero."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, NamedTuple

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import Info

from schemas.money import format_money, rate
from services.performance import replay
from services.reporting import assessment, queries, scoring
from services.reporting.queries import END_OF_TIME

LineKey = tuple[str, date | None]  # (line_id, asOf)


class DepartmentKey(NamedTuple):
    department: str
    fiscal_year: int
    as_of: date | None
    include_subunits: bool


@dataclass
class Context:
    """Per request: the pool, and DataLoaders that evaluate all the departments and all the
    lines a query asks for (however many: aliases, a department's lines) in one batch each,
    with a fixed number of SQL queries per batch."""

    pool: asyncpg.Pool
    departments: DataLoader[DepartmentKey, DepartmentEvaluation] = field(init=False)
    lines: DataLoader[LineKey, LineEvaluation] = field(init=False)

    def __post_init__(self) -> None:
        self.departments = DataLoader(functools.partial(self._on_connection, evaluate_departments))
        self.lines = DataLoader(functools.partial(self._on_connection, evaluate_lines))

    async def _on_connection(
        self, evaluate: Callable[[asyncpg.Connection, list[Any]], Awaitable[list[Any]]], keys: Any
    ) -> list[Any]:
        async with self.pool.acquire() as conn:
            return await evaluate(conn, keys)


def plain(value: Decimal) -> str:
    """A decimal as a plain string, never in exponent form (PostgreSQL's 10000 may come
    back from asyncpg as Decimal('1E+4'))."""
    return format(value, "f")


def _rate(numerator: Decimal | int, denominator: Decimal | int) -> str | None:
    value = rate(numerator, denominator)
    return None if value is None else str(value)


@strawberry.type(description="Spending of one budget category (basic 基本支出 / project 项目支出)")
class CategorySpending:
    category: str = strawberry.field(description="basic (基本支出) or project (项目支出)")
    spent: str = strawberry.field(description="Yuan, exact to the cent")
    share: str | None = strawberry.field(description="Share of total spent")


@strawberry.type(description="Spending of one economic class (301 wages, 302 goods, ...)")
class EconomicClassSpending:
    economic_class: str = strawberry.field(description="GFS-style code, e.g. 301 wages")
    spent: str = strawberry.field(description="Yuan, exact to the cent")
    share: str | None = strawberry.field(description="Share of total spent")


@strawberry.type(description="Spending done by one unit (Disbursed.spending_department)")
class SpendingDepartment:
    department: str = strawberry.field(description="The unit that spent (its code)")
    spent: str = strawberry.field(description="Yuan, exact to the cent")
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
    sangong_budget: str = strawberry.field(
        description='Budget of the "三公" lines (reception, vehicles, overseas travel) as '
        "authorised (年初预算): control is measured against it, not against a budget adjusted "
        "down to what was spent"
    )
    sangong_spent: str = strawberry.field(description='Spent on the "三公" lines')
    sangong_control_rate: str | None = strawberry.field(description='"三公" spent / "三公" budget')
    by_category: list[CategorySpending] = strawberry.field(description="Spent by category")
    by_economic_class: list[EconomicClassSpending] = strawberry.field(
        description="Spent by economic class"
    )
    by_spending_department: list[SpendingDepartment] = strawberry.field(
        description="Who spent it: e.g. the units a line's funds were passed down to"
    )


def budget_fields(
    sums: dict[str, Decimal],
    sangong: tuple[Decimal, Decimal],
    by_category: list[tuple[str, Decimal]],
    by_economic_class: list[tuple[str, Decimal]],
    by_spending_department: list[tuple[str, Decimal]],
) -> dict[str, Any]:
    adjusted, arrived, spent = sums["adjusted_budget"], sums["arrived"], sums["spent"]
    return {
        "sangong_budget": format_money(sangong[0]),
        "sangong_spent": format_money(sangong[1]),
        "sangong_control_rate": _rate(sangong[1], sangong[0]),
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
        "by_spending_department": [
            SpendingDepartment(department=d, spent=format_money(s), share=_rate(s, spent))
            for d, s in by_spending_department
        ],
    }


@strawberry.type(description="Procurement (政府采购) as of a date")
class ProcurementMetrics:
    planned: str = strawberry.field(description="Σ ProcurementPlanned (采购计划)")
    contracted: str = strawberry.field(description="Σ ContractAwarded (合同金额)")
    procurement_execution_rate: str | None = strawberry.field(description="contracted / planned")


@strawberry.type(description="Open cases past their deadline, by how many days past it they are")
class OverdueByAge:
    up_to_3: int = strawberry.field(description="0 to 3 days past the deadline")
    from_4_to_10: int = strawberry.field(description="4 to 10 days")
    from_11_to_30: int = strawberry.field(description="11 to 30 days")
    over_30: int = strawberry.field(description="More than 30 days")


@strawberry.type(description="Case counts and rates (受理, 立案, 派遣, 处置, 结案)")
class CaseCounts:
    reported: int = strawberry.field(description="Cases reported (上报)")
    accepted: int = strawberry.field(description="Cases accepted (受理)")
    filed: int = strawberry.field(description="Cases filed (立案)")
    dispatched: int = strawberry.field(
        description="Cases dispatched (派遣); a re-dispatch counts once"
    )
    disposed: int = strawberry.field(description="Cases disposed (处置)")
    closed: int = strawberry.field(description="Cases closed (结案)")
    closed_on_time: int = strawberry.field(description="Closed at or before its deadline_at")
    due: int = strawberry.field(
        description="Filed cases whose deadline is on or before the date, plus filed cases "
        "already closed by then whose deadline is later"
    )
    open: int = strawberry.field(description="Accepted and not closed by the date (积压)")
    due_closed: int = strawberry.field(
        description="Of the due cases, those closed by the date (numerator of closureRateDue)"
    )
    overdue: int = strawberry.field(description="Open, with its deadline on or before the date")
    overdue_by_age: OverdueByAge = strawberry.field(
        description="The overdue cases by days past the deadline (≤ 3, 4–10, 11–30, > 30)"
    )
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
        "due_closed": counts["due_closed"],
        "open": counts["open"],
        "overdue": counts["overdue"],
        "overdue_by_age": OverdueByAge(
            **{age: counts[f"overdue_{age}"] for age in queries.OVERDUE_AGES}
        ),
        "advance_disposals": counts["advance_disposals"],
        "filing_rate": _rate(counts["filed"], counts["accepted"]),
        "dispatch_rate": _rate(counts["dispatched"], counts["filed"]),
        "disposal_rate": _rate(counts["disposed"], counts["dispatched"]),
        "closure_rate": _rate(counts["closed"], counts["accepted"]),
        "closure_rate_due": _rate(counts["due_closed"], counts["due"]),
        "on_time_rate": _rate(counts["closed_on_time"], counts["due"]),
    }


@strawberry.type(description="Cases of one reporting channel")
class ChannelCases(CaseCounts):
    channel: str = strawberry.field(description="Reporting channel, e.g. supervisor_patrol")


@strawberry.type(description="Cases of one category (e.g. 占道经营)")
class CategoryCases(CaseCounts):
    category: str = strawberry.field(description="Case category, e.g. 占道经营")


@strawberry.type(description="Cases of one kind: event 事件 or component 部件")
class KindCases(CaseCounts):
    kind: str = strawberry.field(description="event (事件) or component (部件)")


@strawberry.type(
    description="Cases of one assignee (the department a case is dispatched to): a case "
    "counts for its assignee from its dispatch on, and for the new one after a re-dispatch"
)
class AssigneeCases(CaseCounts):
    assignee: str = strawberry.field(description="Department code of the assignee")


@strawberry.type(description="Case metrics of a department, with breakdowns")
class CaseMetrics(CaseCounts):
    by_channel: list[ChannelCases] = strawberry.field(description="The counts per channel")
    by_category: list[CategoryCases] = strawberry.field(description="The counts per category")
    by_kind: list[KindCases] = strawberry.field(description="The counts per kind")
    by_assignee: list[AssigneeCases] = strawberry.field(
        description="The counts per assignee: streets and functional departments"
    )


@strawberry.type(description="An output recorded (OutputRecorded), summed up to the date")
class Output:
    indicator: str = strawberry.field(description="What was produced, e.g. 门前三包信息")
    quantity: str = strawberry.field(description="Decimal string")
    unit: str = strawberry.field(description="Unit of the quantity, e.g. 条")


@strawberry.type(
    description="A performance indicator (PerformanceTargetSet) with its actual value and score"
)
class Indicator:
    target_id: str = strawberry.field(description="Setting the same target_id replaces it")
    line_id: str | None = strawberry.field(description="The line of a project target")
    level1: str = strawberry.field(description="e.g. 产出指标, 效益指标")
    level2: str = strawberry.field(description="e.g. 数量指标, 质量指标, 时效指标")
    name: str = strawberry.field(description="The indicator as the evaluation names it")
    metric: str = strawberry.field(
        description="A metric of CONTRACT.md section 4 or output:<indicator>"
    )
    comparator: str = strawberry.field(description=">=, <= or =")
    value: str = strawberry.field(description="The target value")
    unit: str = strawberry.field(description="Unit of the target value")
    actual: str | None = strawberry.field(
        description="The metric as the evaluation reports it (a rate at 4 places); null when "
        "unknown (then it scores 0)"
    )
    weight: str = strawberry.field(description="Points")
    score: str = strawberry.field(description="Points earned, half-up to 2 decimals")


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


@strawberry.type(description="A budget unit (部门/单位)")
class Department:
    code: str = strawberry.field(description="Department code")
    name: str | None = strawberry.field(description="Registered name; null if unregistered")
    parent: str | None = strawberry.field(description="The unit it belongs to, if registered")
    headcount_authorised: int | None = strawberry.field(description="核定编制")
    headcount_actual: int | None = strawberry.field(description="实有人数")


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
    codes: strawberry.Private[list[str]]  # the department and the subunits included
    day: strawberry.Private[date]
    include_subunits: strawberry.Private[bool]
    metrics: strawberry.Private[dict[str, Decimal | None]]  # the scalar metrics, by name

    @strawberry.field(
        description="The same evaluation of the previous fiscal year, as of the same day a "
        "year earlier (29 Feb: 28 Feb); null when that year has no data"
    )
    async def previous_year(self, info: Info[Context, None]) -> DepartmentEvaluation | None:
        as_of = None if self.as_of is None else _year_earlier(self.as_of)
        key = DepartmentKey(self.department, self.fiscal_year - 1, as_of, self.include_subunits)
        try:
            return await info.context.departments.load(key)
        except ValueError:  # no data in the previous year
            return None

    @strawberry.field(
        description="Every scalar metric (budget, procurement, cases) and the score against "
        "the previous fiscal year as of the same day a year earlier; empty when that year has "
        "no data"
    )
    async def year_over_year(self, info: Info[Context, None]) -> list[MetricChange]:
        previous = await self.previous_year(info)
        if previous is None:
            return []
        return [
            metric_change(name, self.metrics.get(name), previous.metrics.get(name))
            for name in dict.fromkeys([*self.metrics, *previous.metrics])
        ]

    @strawberry.field(
        description="January to the month of the date: for arrival, spending and closure curves"
    )
    async def monthly(self, info: Info[Context, None]) -> list[MonthlyPoint]:
        async with info.context.pool.acquire() as conn:
            months = await queries.monthly(conn, self.codes, self.fiscal_year, self.day)
        return monthly_points(self.fiscal_year, self.day, months)

    @strawberry.field(
        description="The department's budget lines of the year, each evaluated (project "
        "self-evaluations)"
    )
    async def lines(self, info: Info[Context, None]) -> list[LineEvaluation]:
        async with info.context.pool.acquire() as conn:
            ids = await queries.line_ids(conn, self.codes, self.fiscal_year)
        return await info.context.lines.load_many([(line_id, self.as_of) for line_id in ids])


def metric_values(*evaluated: Any) -> dict[str, Decimal | None]:
    """Every scalar metric of evaluated objects by its contract name (snake_case); None for a
    rate without denominator."""
    values: dict[str, Decimal | None] = {}
    for obj in evaluated:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                values[f.name] = None
            elif isinstance(value, str | int) and not isinstance(value, bool):
                with contextlib.suppress(InvalidOperation):
                    values[f.name] = Decimal(str(value))
    return values


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


def metric_change(name: str, current: Decimal | None, previous: Decimal | None) -> MetricChange:
    change = None if current is None or previous is None else current - previous
    relative = None
    if change is not None and not name.endswith(("_rate", "share")):
        relative = _rate(change, previous or 0)
    return MetricChange(
        metric=name,
        current=None if current is None else plain(current),
        previous=None if previous is None else plain(previous),
        change=None if change is None else plain(change),
        change_rate=relative,
    )


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def scored(
    targets: list[dict[str, Any]],
    metrics: dict[str, Decimal | None],
    outputs: list[dict[str, Any]],
) -> dict[str, Any]:
    """indicators, score and grade of targets against the evaluated metrics and outputs."""
    produced: dict[str, Decimal] = {}
    for row in outputs:
        produced[row["indicator"]] = produced.get(row["indicator"], Decimal(0)) + row["quantity"]
    indicators = []
    for t in targets:
        metric = t["metric"]
        if metric.startswith("output:"):
            actual = produced.get(metric.removeprefix("output:"))
        else:
            actual = metrics.get(metric)
        points = scoring.score(t["comparator"], t["value"], actual, t["weight"])
        indicators.append(
            Indicator(
                target_id=t["target_id"],
                line_id=t["line_id"],
                level1=t["level1"],
                level2=t["level2"],
                name=t["name"],
                metric=metric,
                comparator=t["comparator"],
                value=plain(t["value"]),
                unit=t["unit"],
                actual=None if actual is None else plain(actual),
                weight=plain(t["weight"]),
                score=str(points),
            )
        )
    if not indicators:
        return {"indicators": [], "score": None, "grade": None}
    total = sum((Decimal(i.score) for i in indicators), Decimal(0))
    weight = sum((t["weight"] for t in targets), Decimal(0))
    return {"indicators": indicators, "score": str(total), "grade": scoring.grade(total, weight)}


def output_list(rows: list[dict[str, Any]]) -> list[Output]:
    return [
        Output(indicator=r["indicator"], quantity=plain(r["quantity"]), unit=r["unit"])
        for r in rows
    ]


def monthly_points(fiscal_year: int, as_of: date, rows: list[dict[str, Any]]) -> list[MonthlyPoint]:
    by_month = {row["month"].month: row for row in rows}
    last = as_of.month if as_of.year == fiscal_year else 12
    adjusted = arrived = spent = Decimal(0)
    accepted = closed = 0
    points = []
    for month in range(1, last + 1):
        row = by_month.get(month, {})
        adjusted += row.get("adjusted", 0)
        arrived += row.get("arrived", 0)
        spent += row.get("spent", 0)
        accepted += row.get("accepted", 0)
        closed += row.get("closed", 0)
        points.append(
            MonthlyPoint(
                month=f"{fiscal_year}-{month:02d}",
                arrived_in_month=format_money(row.get("arrived", Decimal(0))),
                spent_in_month=format_money(row.get("spent", Decimal(0))),
                accepted_in_month=row.get("accepted", 0),
                closed_in_month=row.get("closed", 0),
                adjusted_budget=format_money(adjusted),
                arrived=format_money(arrived),
                spent=format_money(spent),
                arrival_rate=_rate(arrived, adjusted),
                execution_rate=_rate(spent, adjusted),
                accepted=accepted,
                closed=closed,
                closure_rate=_rate(closed, accepted),
            )
        )
    return points


def _as_of(as_of: date | None, fiscal_year: int) -> date:
    if as_of is None:
        return END_OF_TIME
    if as_of.year != fiscal_year:
        raise ValueError(
            f"asOf {as_of.isoformat()} is outside fiscal year {fiscal_year} "
            f"({fiscal_year}-01-01 to {fiscal_year}-12-31)"
        )
    return as_of


def _summed(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Counts of rows that partition the cases (every case has one kind, one assignee)."""
    return {
        c: sum(row[c] for row in rows)
        for c in (*queries.CASE_COUNTS, "open", *queries.DEADLINE_COUNTS)
    }


def _case_metrics(grouped: dict[str, list[dict[str, Any]]]) -> CaseMetrics:
    totals = _summed(grouped["kind"])
    return CaseMetrics(
        **case_fields(totals),
        by_channel=[ChannelCases(channel=r["value"], **case_fields(r)) for r in grouped["channel"]],
        by_category=[
            CategoryCases(category=r["value"], **case_fields(r)) for r in grouped["category"]
        ],
        by_kind=[KindCases(kind=r["value"], **case_fields(r)) for r in grouped["kind"]],
        by_assignee=[
            AssigneeCases(assignee=r["value"], **case_fields(r)) for r in grouped["assignee"]
        ],
    )


@strawberry.type(description="An indicator of an assessment scheme")
class SchemeIndicator:
    metric: str = strawberry.field(
        description="on_time_rate (按期结案率), closure_rate_due (结案率: of the cases due), "
        "closure_rate or disposal_rate"
    )
    name: str | None = strawberry.field(description="As the bulletin names it")
    weight: str = strawberry.field(description="Points out of 100")


@strawberry.type(description="How assignees are scored (AssessmentSchemeSet, or the default)")
class AssessmentScheme:
    effective_month: int | None = strawberry.field(
        description="The month it scores from; null for the default scheme (按期结案率 50, "
        "结案率 50), which holds until a department sets its own"
    )
    document: str | None = strawberry.field(description="The assessment rules it follows")
    indicators: list[SchemeIndicator] = strawberry.field(description="Indicators and weights")


@strawberry.type(description="An assignee's points on one indicator")
class IndicatorPoints:
    metric: str = strawberry.field(description="The rate scored")
    name: str | None = strawberry.field(description="As the bulletin names it")
    weight: str = strawberry.field(description="Points out of 100")
    rate: str | None = strawberry.field(description="The assignee's rate; null: nothing to rate")
    points: str | None = strawberry.field(
        description="weight × min(rate, 1), half-up to 2 decimals; null without a rate"
    )


@strawberry.type(description="One assignee in the assessment: figures, score, rank, change")
class AssessedAssignee:
    assignee: str = strawberry.field(description="Department code of the assignee")
    name: str | None = strawberry.field(description="Its registered name, if registered")
    cases: AssigneeCases = strawberry.field(
        description="Its cases in the period: stages counted in the period (dispatched is net "
        "of re-dispatches to and from it), due = cases that fell due in the period, dueClosed "
        "= those closed by the date, open/overdue = its backlog at the date"
    )
    indicators: list[IndicatorPoints] = strawberry.field(description="Points per indicator")
    score: str | None = strawberry.field(
        description="Σ points out of 100; null when unassessed (an indicator has no rate: "
        "nothing fell due in the period)"
    )
    rank: int | None = strawberry.field(
        description="1 = best; equal scores share a rank (1, 2, 2, 4); null when unassessed"
    )
    previous_score: str | None = strawberry.field(description="Score in the previous period")
    previous_rank: int | None = strawberry.field(description="Rank in the previous period")
    score_change: str | None = strawberry.field(description="score − previousScore")
    rank_change: int | None = strawberry.field(
        description="previousRank − rank: positive when it moved up"
    )


@strawberry.type(
    description="The monthly assessment (月考核) of the assignees of a case platform, or the "
    "year-end review (年总评) when no month is given"
)
class Assessment:
    department: str = strawberry.field(description="The platform-owning department")
    name: str | None = strawberry.field(description="Its registered name")
    fiscal_year: int = strawberry.field(description="The fiscal year")
    month: int | None = strawberry.field(description="1-12; null for the year-end review")
    period: str = strawberry.field(description="YYYY-MM, or YYYY for the year")
    start: date = strawberry.field(description="First day of the period")
    as_of: date = strawberry.field(
        description="Last day counted: the period's end, or the asOf inside it"
    )
    previous_period: str | None = strawberry.field(
        description="The period compared with: the month before, or the previous year"
    )
    scheme: AssessmentScheme = strawberry.field(description="The scheme scoring this period")
    total: CaseCounts = strawberry.field(description="All assignees together")
    assignees: list[AssessedAssignee] = strawberry.field(
        description="Ranked (best first), then the unassessed by code"
    )


def _scheme(row: dict[str, Any] | None) -> assessment.Scheme:
    if row is None:
        return assessment.DEFAULT_SCHEME
    indicators = tuple(
        assessment.SchemeIndicator(i["metric"], i["name"], Decimal(i["weight"]))
        for i in row["indicators"]
    )
    return assessment.Scheme(indicators, row["effective_month"], row["document"])


def _assessed(
    rows: list[dict[str, Any]], scheme: assessment.Scheme
) -> dict[str, tuple[AssigneeCases, assessment.Scored]]:
    found = {}
    for row in rows:
        cases = AssigneeCases(assignee=row["value"], **case_fields(row))
        rates = {i.metric: _decimal(getattr(cases, i.metric)) for i in scheme.indicators}
        found[row["value"]] = (cases, assessment.score(rates, scheme))
    return found


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


async def evaluate_assessment(
    conn: asyncpg.Connection,
    department: str,
    fiscal_year: int,
    month: int | None,
    as_of: date | None,
) -> Assessment:
    assessment.check_month(month)
    period = assessment.Period(fiscal_year, month)
    if as_of is not None:
        _as_of(as_of, fiscal_year)
    periods = [(period, period.day(as_of))]
    if period.has_previous():
        periods.append((period.previous(), period.previous().end))
    known = await queries.departments_known(conn, [department])
    if department not in known:
        raise ValueError(f"unknown department {department!r}")
    cases = await queries.department_cases(
        conn,
        [([department], p.fiscal_year, day) for p, day in periods],
        [p.start for p, _ in periods],
    )
    schemes = [
        _scheme(row)
        for row in await queries.assessment_schemes(
            conn, department, [(p.fiscal_year, p.month or 12, day) for p, day in periods]
        )
    ]
    now = _assessed(cases[0]["assignee"], schemes[0])
    before = _assessed(cases[1]["assignee"], schemes[1]) if len(periods) > 1 else {}
    rank_now = assessment.ranks({a: scored.score for a, (_, scored) in now.items()})
    rank_before = assessment.ranks({a: scored.score for a, (_, scored) in before.items()})
    names = await queries.departments_known(conn, list(now))
    rows = []
    for code, (counts, scored) in now.items():
        previous = before[code][1].score if code in before else None
        rank, previous_rank = rank_now[code], rank_before.get(code)
        rows.append(
            AssessedAssignee(
                assignee=code,
                name=names.get(code, {}).get("name"),
                cases=counts,
                indicators=[
                    IndicatorPoints(
                        metric=i.metric,
                        name=i.name,
                        weight=plain(i.weight),
                        rate=getattr(counts, i.metric),
                        points=None if p is None else str(p),
                    )
                    for i, p in zip(schemes[0].indicators, scored.points, strict=True)
                ],
                score=None if scored.score is None else str(scored.score),
                rank=rank,
                previous_score=None if previous is None else str(previous),
                previous_rank=previous_rank,
                score_change=None
                if scored.score is None or previous is None
                else str(scored.score - previous),
                rank_change=None if rank is None or previous_rank is None else previous_rank - rank,
            )
        )
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.assignee))
    totals = _summed(cases[0]["assignee"])
    scheme = schemes[0]
    return Assessment(
        department=department,
        name=known[department]["name"],
        fiscal_year=fiscal_year,
        month=month,
        period=period.label,
        start=period.start,
        as_of=periods[0][1],
        previous_period=period.previous().label if period.has_previous() else None,
        scheme=AssessmentScheme(
            effective_month=scheme.effective_month,
            document=scheme.document,
            indicators=[
                SchemeIndicator(metric=i.metric, name=i.name, weight=plain(i.weight))
                for i in scheme.indicators
            ],
        ),
        total=CaseCounts(**case_fields(totals)),
        assignees=rows,
    )


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
    ) -> DepartmentEvaluation | None:  # nullable (CONTRACT.md): other fields still answer
        key = DepartmentKey(department, fiscal_year, as_of, include_subunits)
        return await info.context.departments.load(key)

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
            return await evaluate_assessment(conn, department, fiscal_year, month, as_of)

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
            return await replay.digest(conn, fiscal_year, department, projections)

    @strawberry.field(description="Departments with data (in a fiscal year, when given)")
    async def departments(
        self,
        info: Info[Context, None],
        fiscal_year: Annotated[
            int | None, strawberry.argument(description="Only those with data in this year")
        ] = None,
    ) -> list[Department]:
        async with info.context.pool.acquire() as conn:
            rows = await queries.departments(conn, fiscal_year)
        return [Department(**row) for row in rows]

    @strawberry.field(description="Budget metrics of one line, as of a date")
    async def line_evaluation(
        self,
        info: Info[Context, None],
        line_id: Annotated[str, strawberry.argument(description="Budget line id")],
        as_of: Annotated[date | None, AS_OF] = None,
    ) -> LineEvaluation | None:  # nullable (CONTRACT.md): other fields still answer
        return await info.context.lines.load((line_id, as_of))


async def evaluate_departments(
    conn: asyncpg.Connection, keys: list[DepartmentKey]
) -> list[DepartmentEvaluation | BaseException]:
    """Evaluate departments as of dates in a fixed number of queries (a DataLoader batch)."""
    known = await queries.departments_known(conn, [k.department for k in keys])
    subunits = await queries.subunits(conn, [k.department for k in keys if k.include_subunits])
    errors: dict[int, BaseException] = {}
    asked: dict[int, queries.Evaluation] = {}
    for index, key in enumerate(keys):
        try:
            day = _as_of(key.as_of, key.fiscal_year)
            if key.department not in known:
                raise ValueError(f"unknown department {key.department!r}")
        except ValueError as error:
            errors[index] = error
            continue
        units = subunits.get(key.department, []) if key.include_subunits else []
        asked[index] = ([key.department, *units], key.fiscal_year, day)
    evaluations = list(asked.values())
    with_data = await queries.with_data(conn, evaluations)
    for position, index in enumerate(list(asked)):
        if position not in with_data:
            key = keys[index]
            errors[index] = ValueError(
                f"department {key.department!r} has no data for fiscal year {key.fiscal_year}"
            )
            del asked[index]
    evaluations = list(asked.values())
    if not evaluations:
        return [errors[i] for i in range(len(keys))]
    budgets = await queries.department_budgets(conn, evaluations)
    cases = await queries.department_cases(conn, evaluations)
    outputs = await queries.department_outputs(conn, evaluations)
    targets = await queries.department_targets(
        conn, [(keys[i].department, keys[i].fiscal_year) for i in asked]
    )
    evaluated = {
        index: _department_evaluation(keys[index], known[keys[index].department], *found)
        for index, *found in zip(asked, evaluations, budgets, cases, outputs, targets, strict=True)
    }
    return [errors[i] if i in errors else evaluated[i] for i in range(len(keys))]


def _department_evaluation(
    key: DepartmentKey,
    registered: dict[str, Any],
    evaluation: queries.Evaluation,
    budget: dict[str, Any],
    cases: dict[str, list[dict[str, Any]]],
    outputs: list[dict[str, Any]],
    targets: list[dict[str, Any]],
) -> DepartmentEvaluation:
    codes, _, day = evaluation
    sums = budget["sums"]
    budget_metrics = BudgetMetrics(
        **budget_fields(
            sums,
            budget["sangong"],
            budget["by_category"],
            budget["by_economic_class"],
            budget["by_spending_department"],
        )
    )
    procurement = ProcurementMetrics(
        planned=format_money(sums["procurement_planned"]),
        contracted=format_money(sums["contracted"]),
        procurement_execution_rate=_rate(sums["contracted"], sums["procurement_planned"]),
    )
    case_metrics = _case_metrics(cases)
    metrics = metric_values(budget_metrics, procurement, case_metrics)
    evaluation_score = scored(targets, metrics, outputs)
    metrics["score"] = (
        None if evaluation_score["score"] is None else Decimal(evaluation_score["score"])
    )
    return DepartmentEvaluation(
        department=key.department,
        name=registered["name"],
        fiscal_year=key.fiscal_year,
        subunits=codes[1:],
        as_of=key.as_of,
        headcount_authorised=registered["headcount_authorised"],
        headcount_actual=registered["headcount_actual"],
        budget=budget_metrics,
        procurement=procurement,
        cases=case_metrics,
        outputs=output_list(outputs),
        **evaluation_score,
        codes=codes,
        day=day,
        include_subunits=key.include_subunits,
        metrics=metrics,
    )


async def evaluate_lines(
    conn: asyncpg.Connection, keys: list[LineKey]
) -> list[LineEvaluation | BaseException]:
    """Evaluate lines as of dates in a fixed number of queries (a DataLoader batch)."""
    lines = await queries.lines_by_id(conn, [line_id for line_id, _ in keys])
    asked: dict[int, tuple[str, date]] = {}
    errors: dict[int, BaseException] = {}
    for index, (line_id, as_of) in enumerate(keys):
        try:
            if line_id not in lines:
                raise ValueError(f"unknown budget line {line_id!r}")
            asked[index] = (line_id, _as_of(as_of, lines[line_id]["fiscal_year"]))
        except ValueError as error:
            errors[index] = error
    pairs = list(asked.values())
    if not pairs:
        return [errors[i] for i in range(len(keys))]
    budgets = await queries.lines_budget(conn, pairs)
    outputs = await queries.lines_outputs(conn, pairs)
    targets = await queries.lines_targets(conn, [line_id for line_id, _ in pairs])
    evaluated = {
        index: _line_evaluation(lines[line_id], keys[index][1], budget, produced, targets)
        for index, (line_id, _), budget, produced in zip(
            asked, pairs, budgets, outputs, strict=True
        )
    }
    return [errors[i] if i in errors else evaluated[i] for i in range(len(keys))]


def _line_evaluation(
    line: dict[str, Any],
    as_of: date | None,
    budget: dict[str, Any],
    produced: list[dict[str, Any]],
    targets: dict[str, list[dict[str, Any]]],
) -> LineEvaluation:
    sums = budget["sums"]
    sangong = (sums["initial_budget"], sums["spent"]) if line["sangong"] else (0, 0)
    fields = budget_fields(
        sums,
        (Decimal(sangong[0]), Decimal(sangong[1])),
        [(line["category"], sums["spent"])],
        budget["by_economic_class"],
        budget["by_spending_department"],
    )
    return LineEvaluation(
        line_id=line["line_id"],
        department=line["department"],
        title=line["title"],
        category=line["category"],
        fiscal_year=line["fiscal_year"],
        as_of=as_of,
        **fields,
        outputs=output_list(produced),
        **scored(
            targets.get(line["line_id"], []), metric_values(BudgetMetrics(**fields)), produced
        ),
    )


# Evaluators send the same few queries again and again: parse and validate each once.
# (instances, as strawberry's docs show: one cache for all requests; its type hints want
# classes, which would make a new, empty cache per request)
schema = strawberry.Schema(
    query=Query,
    extensions=[ParserCache(maxsize=256), ValidationCache(maxsize=256)],  # type: ignore[list-item]
)
