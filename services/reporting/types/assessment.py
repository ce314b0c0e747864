"""The monthly assessment (月考核) of a case platform's assignees, and its scheme."""

from __future__ import annotations

from datetime import date
from typing import Any, Self

import strawberry

from services.reporting import assessment
from services.reporting.access import Scope
from services.reporting.types.cases import AssigneeCases, CaseCounts
from services.reporting.types.text import plain, text


@strawberry.type(description="An indicator of an assessment scheme")
class SchemeIndicator:
    metric: str = strawberry.field(
        description="on_time_rate (按期结案率), closure_rate_due (结案率: of the cases due), "
        "closure_rate or disposal_rate"
    )
    name: str | None = strawberry.field(description="As the bulletin names it")
    weight: str = strawberry.field(description="Points out of 100")

    @classmethod
    def from_indicator(cls, i: assessment.SchemeIndicator) -> Self:
        return cls(metric=i.metric, name=i.name, weight=plain(i.weight))


@strawberry.type(description="How assignees are scored (AssessmentSchemeSet, or the default)")
class AssessmentScheme:
    effective_month: int | None = strawberry.field(
        description="The month it scores from; null for the default scheme (按期结案率 50, "
        "结案率 50), which holds until a department sets its own"
    )
    document: str | None = strawberry.field(description="The assessment rules it follows")
    indicators: list[SchemeIndicator] = strawberry.field(description="Indicators and weights")

    @classmethod
    def from_scheme(cls, s: assessment.Scheme) -> Self:
        return cls(
            effective_month=s.effective_month,
            document=s.document,
            indicators=[SchemeIndicator.from_indicator(i) for i in s.indicators],
        )


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

    @classmethod
    def from_standing(
        cls, s: assessment.Standing, name: str | None, scheme: assessment.Scheme
    ) -> Self:
        indicators = [
            IndicatorPoints(
                metric=i.metric,
                name=i.name,
                weight=plain(i.weight),
                rate=text(getattr(s.cases, i.metric)),
                points=text(points),
            )
            for i, points in zip(scheme.indicators, s.scored.points, strict=True)
        ]
        return cls(
            assignee=s.assignee,
            name=name,
            cases=AssigneeCases.from_figures(s.cases, assignee=s.assignee),
            indicators=indicators,
            score=text(s.scored.score),
            rank=s.rank,
            previous_score=text(s.previous_score),
            previous_rank=s.previous_rank,
            score_change=text(s.score_change),
            rank_change=s.rank_change,
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
    note: str | None = strawberry.field(
        description="Why assignees is empty (null when it is not): no case of the platform "
        "was dispatched to any assignee by the period's last day counted, or the token sees "
        "none of the assignees"
    )

    @classmethod
    def from_bulletin(cls, b: assessment.Bulletin, scope: Scope) -> Self:
        """The bulletin, its rows limited to the assignees the scope sees (their ranks are
        those of the whole bulletin)."""
        period = b.period
        shown = [s for s in b.assignees if scope.sees(s.assignee)]
        return cls(
            department=b.department,
            name=b.name,
            fiscal_year=period.fiscal_year,
            month=period.month,
            period=period.label,
            start=period.start,
            as_of=b.as_of,
            previous_period=period.previous().label if period.has_previous() else None,
            scheme=AssessmentScheme.from_scheme(b.scheme),
            total=CaseCounts.from_figures(b.total),
            assignees=[
                AssessedAssignee.from_standing(s, b.names.get(s.assignee), b.scheme) for s in shown
            ],
            note=empty_note(b, shown),
        )


def empty_note(b: assessment.Bulletin, shown: list[Any]) -> str | None:
    """Why a bulletin has no rows, in the evaluators' words; None when it has some."""
    if shown:
        return None
    if b.assignees:
        return (
            "令牌所含部门不包括任何承办单位，无可显示的考核行"
            "（the token sees none of the assignees）"
        )
    return (
        f"截至 {b.as_of.isoformat()}，本平台没有案件派遣给任何承办单位，无可考核的单位"
        "（no case dispatched to any assignee by then）"
    )
