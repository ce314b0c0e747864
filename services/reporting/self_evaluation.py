"""The self-evaluation table (项目支出绩效自评表 for a budget line, 部门整体支出绩效自评表 for a
department; docs/contract.md section 8), pure: from the evaluated figures of the line or the
department and its funds by source, the funds' score, the total and the grade.

Budget execution is worth FUNDS_WEIGHT points, 10 × min(execution rate, 1) half-up to 2
places; the indicators carry their own weights; the grade is on total / (10 + Σ weights).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from schemas.events import FUNDING_SOURCES
from services.reporting import scoring
from services.reporting.evaluation import Budget, Rate, ScoredTarget, money

FUNDS_WEIGHT = Decimal(10)
Sums = Mapping[str, Decimal]  # initial_budget, adjusted_budget, arrived, spent


@dataclass(frozen=True)
class SourceFunds:
    source: str  # a funding source (FUNDING_SOURCES)
    initial_budget: Decimal
    adjusted_budget: Decimal
    executed: Decimal


@dataclass(frozen=True)
class Funds:
    initial_budget: Decimal  # 年初预算数
    adjusted_budget: Decimal  # 全年预算数
    executed: Decimal  # 全年执行数
    execution_rate: Rate  # 执行率
    weight: Decimal  # 分值
    score: Decimal  # 得分
    by_source: tuple[SourceFunds, ...]


def funds(budget: Budget, by_source: Mapping[str, Sums]) -> Funds:
    """The funds' row of the table: the budget's totals, scored, and each funding source's
    (in the form's order of sources, any other after them)."""
    order = {source: i for i, source in enumerate(FUNDING_SOURCES)}
    sources = sorted(by_source, key=lambda s: (order.get(s, len(order)), s))
    share = min(budget.execution_rate or Decimal(0), Decimal(1))
    return Funds(
        initial_budget=budget.initial_budget,
        adjusted_budget=budget.adjusted_budget,
        executed=budget.spent,
        execution_rate=budget.execution_rate,
        weight=FUNDS_WEIGHT,
        score=(FUNDS_WEIGHT * share).quantize(scoring.POINTS, ROUND_HALF_UP),
        by_source=tuple(
            SourceFunds(
                source,
                money(by_source[source]["initial_budget"]),
                money(by_source[source]["adjusted_budget"]),
                money(by_source[source]["spent"]),
            )
            for source in sources
        ),
    )


@dataclass(frozen=True)
class SelfEvaluation:
    kind: str  # "project" (a budget line's table) or "department" (the whole department's)
    fiscal_year: int
    as_of: date | None
    day: date  # the last day counted
    title: str
    line_id: str | None
    department: str  # the code of the department owning the line, or evaluated
    units: tuple[str, ...]  # the implementing units (实施单位), by code
    funds: Funds
    indicators: tuple[ScoredTarget, ...]

    @property
    def total(self) -> Decimal:
        """总分: the funds' score and the indicators'."""
        return self.funds.score + sum((i.points for i in self.indicators), Decimal(0))

    @property
    def grade(self) -> str | None:
        weights = sum((Decimal(i.target["weight"]) for i in self.indicators), Decimal(0))
        return scoring.grade(self.total, self.funds.weight + weights)
