"""Case counts and rates, of a department and by channel, category, kind and assignee."""

from __future__ import annotations

from typing import Any, Self

import strawberry
from strawberry.types import Info

from services.reporting.access import Scope
from services.reporting.case_figures import CASE_COUNTED, CASE_RATES, CaseBreakdown, CaseFigures
from services.reporting.loaders import Context
from services.reporting.types.text import text


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

    @classmethod
    def from_figures(cls, figures: CaseFigures, **extra: Any) -> Self:
        """The counts and rates of figures, with the fields a subtype adds."""
        fields: dict[str, Any] = {name: getattr(figures, name) for name in CASE_COUNTED}
        fields |= {name: text(getattr(figures, name)) for name in CASE_RATES}
        return cls(**fields, overdue_by_age=OverdueByAge(**figures.overdue_by_age), **extra)


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

    @strawberry.field(
        description="The assignee's registered name (DepartmentRegistered), null if it is "
        "not registered; batched into one query per request for all the rows"
    )
    async def name(self, info: Info[Context, None]) -> str | None:
        return await info.context.names.load(self.assignee)  # type: ignore[no-any-return]


@strawberry.type(description="Case metrics of a department, with breakdowns")
class CaseMetrics(CaseCounts):
    by_channel: list[ChannelCases] = strawberry.field(description="The counts per channel")
    by_category: list[CategoryCases] = strawberry.field(description="The counts per category")
    by_kind: list[KindCases] = strawberry.field(description="The counts per kind")
    by_assignee: list[AssigneeCases] = strawberry.field(
        description="The counts per assignee: streets and functional departments"
    )

    @classmethod
    def from_breakdown(cls, cases: CaseBreakdown, scope: Scope) -> Self:
        """The metrics, by_assignee limited to the assignees the scope sees."""
        return cls.from_figures(
            cases.total,
            by_channel=[ChannelCases.from_figures(f, channel=v) for v, f in cases.by_channel],
            by_category=[CategoryCases.from_figures(f, category=v) for v, f in cases.by_category],
            by_kind=[KindCases.from_figures(f, kind=v) for v, f in cases.by_kind],
            by_assignee=[
                AssigneeCases.from_figures(f, assignee=v)
                for v, f in cases.by_assignee
                if scope.sees(v)
            ],
        )
