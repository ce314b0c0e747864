"""The evaluation's arithmetic (docs/contract.md section 4), pure: Decimal in, Decimal out.

From the sums the queries read: budget and procurement figures (the case figures are in
case_figures.py), the scoring of targets, the monthly points and the changes against the
previous year. Money is exact to the cent, rates are rounded half-up to 4 places and None
when their denominator is zero. How the figures are shown (strings) is the GraphQL types'
business (services/reporting/types).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from schemas.events import FISCAL_YEARS
from schemas.money import CENT, rate
from services.reporting import scoring
from services.reporting.case_figures import CaseBreakdown, CaseFigures, Rate, Row, case_breakdown
from services.reporting.errors import UserInputError


def money(value: Decimal | int) -> Decimal:
    return Decimal(value).quantize(CENT)


def evaluation_day(as_of: date | None, fiscal_year: int, today: date) -> date:
    """The last day counted: asOf, which must lie in the fiscal year; without it, today (in
    the gateway's time zone): a past year's figures as they stand now, every deadline before
    today passed and every later one not yet."""
    check_fiscal_year(fiscal_year)
    if as_of is None:
        return today
    if as_of.year != fiscal_year:
        raise UserInputError(
            f"asOf {as_of.isoformat()} is outside fiscal year {fiscal_year} "
            f"({fiscal_year}-01-01 to {fiscal_year}-12-31)"
        )
    return as_of


def check_fiscal_year(fiscal_year: int) -> None:
    """A year events can belong to (docs/contract.md section 2), else the argument's error."""
    if fiscal_year not in FISCAL_YEARS:
        raise UserInputError(
            f"fiscalYear {fiscal_year} is not between {FISCAL_YEARS[0]} and {FISCAL_YEARS[-1]}"
        )


def year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class Share:
    key: str  # a category, an economic class or a spending department
    spent: Decimal
    share: Rate  # of the total spent


def _shares(rows: Sequence[tuple[str, Decimal]], total: Decimal) -> tuple[Share, ...]:
    return tuple(Share(key, money(spent), rate(spent, total)) for key, spent in rows)


@dataclass(frozen=True)
class Budget:
    initial_budget: Decimal
    adjusted_budget: Decimal
    arrived: Decimal
    transferred: Decimal
    spent: Decimal
    balance: Decimal
    arrival_rate: Rate
    execution_rate: Rate
    spent_of_arrived_rate: Rate
    sangong_budget: Decimal
    sangong_spent: Decimal
    sangong_control_rate: Rate
    by_category: tuple[Share, ...]
    by_economic_class: tuple[Share, ...]
    by_spending_department: tuple[Share, ...]


def budget(
    sums: Mapping[str, Decimal],
    sangong: tuple[Decimal, Decimal],
    by_category: Sequence[tuple[str, Decimal]],
    by_economic_class: Sequence[tuple[str, Decimal]],
    by_spending_department: Sequence[tuple[str, Decimal]],
) -> Budget:
    """Budget figures from the sums of the line measures and the '三公' (budget, spent)."""
    adjusted, arrived, spent = sums["adjusted_budget"], sums["arrived"], sums["spent"]
    return Budget(
        initial_budget=money(sums["initial_budget"]),
        adjusted_budget=money(adjusted),
        arrived=money(arrived),
        transferred=money(sums["transferred"]),
        spent=money(spent),
        balance=money(adjusted - spent),
        arrival_rate=rate(arrived, adjusted),
        execution_rate=rate(spent, adjusted),
        spent_of_arrived_rate=rate(spent, arrived),
        sangong_budget=money(sangong[0]),
        sangong_spent=money(sangong[1]),
        sangong_control_rate=rate(sangong[1], sangong[0]),
        by_category=_shares(by_category, spent),
        by_economic_class=_shares(by_economic_class, spent),
        by_spending_department=_shares(by_spending_department, spent),
    )


@dataclass(frozen=True)
class Procurement:
    planned: Decimal
    contracted: Decimal
    procurement_execution_rate: Rate


def procurement(sums: Mapping[str, Decimal]) -> Procurement:
    planned, contracted = sums["procurement_planned"], sums["contracted"]
    return Procurement(money(planned), money(contracted), rate(contracted, planned))


def metric_values(*evaluated: Budget | Procurement | CaseFigures) -> dict[str, Decimal | None]:
    """Every scalar metric of evaluated figures by its contract name (snake_case), in field
    order; None for a rate without denominator."""
    values: dict[str, Decimal | None] = {}
    for figures in evaluated:
        for f in dataclasses.fields(figures):
            value = getattr(figures, f.name)
            if value is None or isinstance(value, Decimal):
                values[f.name] = value
            elif isinstance(value, int) and not isinstance(value, bool):
                values[f.name] = Decimal(value)
    return values


@dataclass(frozen=True)
class ScoredTarget:
    target: Row  # the targets row (PerformanceTargetSet)
    actual: Decimal | None  # the metric evaluated; None: unknown, scores 0
    points: Decimal


@dataclass(frozen=True)
class Scores:
    indicators: tuple[ScoredTarget, ...]
    score: Decimal | None  # None without targets
    grade: str | None


def score_targets(
    targets: Sequence[Row], metrics: Mapping[str, Decimal | None], outputs: Sequence[Row]
) -> Scores:
    """Targets scored against the evaluated metrics and the outputs (metric output:<name>)."""
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
        indicators.append(ScoredTarget(t, actual, points))
    if not indicators:
        return Scores((), None, None)
    total = sum((i.points for i in indicators), Decimal(0))
    weight = sum((t["weight"] for t in targets), Decimal(0))
    return Scores(tuple(indicators), total, scoring.grade(total, weight))


@dataclass(frozen=True)
class MonthPoint:
    month: str  # YYYY-MM
    arrived_in_month: Decimal
    spent_in_month: Decimal
    accepted_in_month: int
    closed_in_month: int
    adjusted_budget: Decimal  # the totals by the month's end
    arrived: Decimal
    spent: Decimal
    arrival_rate: Rate
    execution_rate: Rate
    accepted: int
    closed: int
    closure_rate: Rate


def monthly_points(fiscal_year: int, as_of: date, rows: Sequence[Row]) -> list[MonthPoint]:
    """January to the month of the day: each month's flows (rows by month) and the totals.
    Rows of other calendar years (a case of the year closed the next January) are left out."""
    by_month = {row["month"].month: row for row in rows if row["month"].year == fiscal_year}
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
            MonthPoint(
                month=f"{fiscal_year}-{month:02d}",
                arrived_in_month=money(row.get("arrived", Decimal(0))),
                spent_in_month=money(row.get("spent", Decimal(0))),
                accepted_in_month=row.get("accepted", 0),
                closed_in_month=row.get("closed", 0),
                adjusted_budget=money(adjusted),
                arrived=money(arrived),
                spent=money(spent),
                arrival_rate=rate(arrived, adjusted),
                execution_rate=rate(spent, adjusted),
                accepted=accepted,
                closed=closed,
                closure_rate=rate(closed, accepted),
            )
        )
    return points


@dataclass(frozen=True)
class Change:
    metric: str
    current: Decimal | None
    previous: Decimal | None
    change: Decimal | None  # current − previous
    change_rate: Rate  # change / previous, for amounts and counts only


def metric_change(name: str, current: Decimal | None, previous: Decimal | None) -> Change:
    change = None if current is None or previous is None else current - previous
    relative = None
    if change is not None and not name.endswith(("_rate", "share")):
        relative = rate(change, previous or 0)
    return Change(name, current, previous, change, relative)


def year_over_year(
    current: Mapping[str, Decimal | None], previous: Mapping[str, Decimal | None]
) -> list[Change]:
    """Every metric of either year, this year's first."""
    names = dict.fromkeys([*current, *previous])
    return [metric_change(name, current.get(name), previous.get(name)) for name in names]


class DepartmentKey(NamedTuple):
    department: str
    fiscal_year: int
    as_of: date | None
    include_subunits: bool

    def year_before(self) -> DepartmentKey:
        """The previous fiscal year, as of the same day a year earlier."""
        as_of = None if self.as_of is None else year_earlier(self.as_of)
        return self._replace(fiscal_year=self.fiscal_year - 1, as_of=as_of)


@dataclass(frozen=True)
class DepartmentFigures:
    key: DepartmentKey
    registered: Row  # name, parent, headcount_authorised, headcount_actual (None: unknown)
    codes: tuple[str, ...]  # the department and the subunits included
    day: date  # the last day counted
    budget: Budget
    procurement: Procurement
    cases: CaseBreakdown
    outputs: tuple[Row, ...]  # indicator, unit, quantity
    scores: Scores
    metrics: Mapping[str, Decimal | None]  # the scalar metrics and the score, by name


@dataclass(frozen=True)
class DepartmentSums:
    """What the queries found for one department evaluation."""

    budget: Row  # sums, sangong, by_category, by_economic_class, by_spending_department
    cases: Mapping[str, Sequence[Row]]  # by dimension
    outputs: Sequence[Row]
    targets: Sequence[Row]


def department(
    key: DepartmentKey, registered: Row, codes: Sequence[str], day: date, found: DepartmentSums
) -> DepartmentFigures:
    b = found.budget
    sums = b["sums"]
    budget_figures = budget(
        sums, b["sangong"], b["by_category"], b["by_economic_class"], b["by_spending_department"]
    )
    procurement_figures = procurement(sums)
    cases = case_breakdown(found.cases)
    metrics = metric_values(budget_figures, procurement_figures, cases.total)
    scores = score_targets(found.targets, metrics, found.outputs)
    metrics["score"] = scores.score
    return DepartmentFigures(
        key=key,
        registered=registered,
        codes=tuple(codes),
        day=day,
        budget=budget_figures,
        procurement=procurement_figures,
        cases=cases,
        outputs=tuple(found.outputs),
        scores=scores,
        metrics=metrics,
    )


@dataclass(frozen=True)
class LineFigures:
    line: Row  # the lines row: line_id, department, title, category, fiscal_year, sangong
    as_of: date | None
    day: date  # the last day counted
    budget: Budget
    outputs: tuple[Row, ...]
    scores: Scores


def line(
    row: Row,
    as_of: tuple[date | None, date],
    sums: Row,
    produced: Sequence[Row],
    targets: Sequence[Row],
) -> LineFigures:
    """A line's figures (``as_of``: the date asked, the last day counted): a '三公' line's
    budget and spending are all '三公'."""
    measures = sums["sums"]
    zero = Decimal(0)
    sangong = (measures["initial_budget"], measures["spent"]) if row["sangong"] else (zero, zero)
    figures = budget(
        measures,
        sangong,
        [(row["category"], measures["spent"])],
        sums["by_economic_class"],
        sums["by_spending_department"],
    )
    scores = score_targets(targets, metric_values(figures), produced)
    return LineFigures(row, *as_of, figures, tuple(produced), scores)
