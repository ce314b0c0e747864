"""Budget and procurement metrics."""

from __future__ import annotations

from typing import Any, Self

import strawberry

from schemas.money import format_money
from services.reporting.evaluation import Budget, Procurement, Share
from services.reporting.types.text import text


class _Spending:
    """A share of the spending: the field naming what spent is KEY."""

    KEY = ""

    @classmethod
    def from_share(cls, share: Share) -> Self:
        fields = {
            cls.KEY: share.key,
            "spent": format_money(share.spent),
            "share": text(share.share),
        }
        return cls(**fields)


@strawberry.type(description="Spending of one budget category (basic 基本支出 / project 项目支出)")
class CategorySpending(_Spending):
    KEY = "category"
    category: str = strawberry.field(description="basic (基本支出) or project (项目支出)")
    spent: str = strawberry.field(description="Yuan, exact to the cent")
    share: str | None = strawberry.field(description="Share of total spent")


@strawberry.type(description="Spending of one economic class (301 wages, 302 goods, ...)")
class EconomicClassSpending(_Spending):
    KEY = "economic_class"
    economic_class: str = strawberry.field(description="GFS-style code, e.g. 301 wages")
    spent: str = strawberry.field(description="Yuan, exact to the cent")
    share: str | None = strawberry.field(description="Share of total spent")


@strawberry.type(description="Spending done by one unit (Disbursed.spending_department)")
class SpendingDepartment(_Spending):
    KEY = "department"
    department: str = strawberry.field(description="The unit that spent (its code)")
    spent: str = strawberry.field(description="Yuan, exact to the cent")
    share: str | None = strawberry.field(description="Share of total spent")


@strawberry.type(description="Budget metrics as of a date (docs/contract.md section 4)")
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

    @staticmethod
    def values(b: Budget) -> dict[str, Any]:
        """The fields of budget figures (for this type and those that extend it)."""
        return {
            **{name: format_money(getattr(b, name)) for name in (
                "initial_budget", "adjusted_budget", "arrived", "transferred", "spent",
                "balance", "sangong_budget", "sangong_spent")},
            **{name: text(getattr(b, name)) for name in (
                "arrival_rate", "execution_rate", "spent_of_arrived_rate",
                "sangong_control_rate")},
            "by_category": [CategorySpending.from_share(s) for s in b.by_category],
            "by_economic_class": [EconomicClassSpending.from_share(s) for s in b.by_economic_class],
            "by_spending_department": [
                SpendingDepartment.from_share(s) for s in b.by_spending_department
            ],
        }  # fmt: skip

    @classmethod
    def from_budget(cls, b: Budget) -> Self:
        return cls(**cls.values(b))


@strawberry.type(description="Procurement (政府采购) as of a date")
class ProcurementMetrics:
    planned: str = strawberry.field(description="Σ ProcurementPlanned (采购计划)")
    contracted: str = strawberry.field(description="Σ ContractAwarded (合同金额)")
    procurement_execution_rate: str | None = strawberry.field(description="contracted / planned")

    @classmethod
    def from_procurement(cls, p: Procurement) -> Self:
        return cls(
            planned=format_money(p.planned),
            contracted=format_money(p.contracted),
            procurement_execution_rate=text(p.procurement_execution_rate),
        )
