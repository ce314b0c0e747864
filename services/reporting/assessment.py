"""The monthly assessment (月通报, 月考核, 年总评) of a case platform's assignees: the streets
and functional departments its cases are dispatched to. Pure: periods, schemes, scores, ranks.

A period is a month of a fiscal year, or the whole year (the year-end review). Its figures
count as of its last day, or as of an earlier day inside it: once a month has ended its
bulletin no longer changes. An assignee's score is Σ weight × min(rate, 1) over the
indicators of the scheme in force (each rounded half-up to 2 decimals, as in CONTRACT.md
section 4), on a 100-point scale. An assignee with no value for an indicator (nothing fell
due in the period, say) is listed as unassessed, without score or rank, rather than ranked
last: an empty month is no evidence of bad work. Ranks are competition ranks (1, 2, 2, 4).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.reporting import scoring


@dataclass(frozen=True)
class SchemeIndicator:
    metric: str  # a case rate of CONTRACT.md section 4 (schemas.events.AssessmentMetric)
    name: str | None
    weight: Decimal


@dataclass(frozen=True)
class Scheme:
    indicators: tuple[SchemeIndicator, ...]
    effective_month: int | None = None  # None: the default scheme
    document: str | None = None


# The seed's district: "主要依据按期结案率和结案率这两项指标", equally weighted out of 100.
# 结案率 is measured against the cases due (应结案), as the assessment counts them.
DEFAULT_SCHEME = Scheme(
    indicators=(
        SchemeIndicator("on_time_rate", "按期结案率", Decimal(50)),
        SchemeIndicator("closure_rate_due", "结案率", Decimal(50)),
    )
)


@dataclass(frozen=True)
class Period:
    fiscal_year: int
    month: int | None  # None: the whole year (年总评)

    @property
    def start(self) -> date:
        return date(self.fiscal_year, self.month or 1, 1)

    @property
    def end(self) -> date:
        month = self.month or 12
        return date(self.fiscal_year, month, calendar.monthrange(self.fiscal_year, month)[1])

    @property
    def label(self) -> str:
        return (
            str(self.fiscal_year) if self.month is None else f"{self.fiscal_year}-{self.month:02d}"
        )

    def previous(self) -> Period:
        """The month before (none before January), or the previous year's review."""
        if self.month is None:
            return Period(self.fiscal_year - 1, None)
        return Period(self.fiscal_year, self.month - 1)

    def has_previous(self) -> bool:
        return self.month != 1

    def day(self, as_of: date | None) -> date:
        """The last day counted: the period's end, or a day inside it."""
        if as_of is None or as_of >= self.end:
            return self.end
        if as_of < self.start:
            raise ValueError(
                f"asOf {as_of.isoformat()} is before the period {self.label} begins "
                f"({self.start.isoformat()})"
            )
        return as_of


def check_month(month: int | None) -> None:
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"month {month} is not a month: 1 to 12, or absent for the whole year")


@dataclass(frozen=True)
class Scored:
    points: tuple[Decimal | None, ...]  # per indicator of the scheme; None: no rate
    score: Decimal | None  # None: unassessed


def score(rates: dict[str, Decimal | None], scheme: Scheme) -> Scored:
    """An assignee's points on each indicator, and its score (None if any rate is missing)."""
    points = tuple(
        None
        if rates.get(i.metric) is None
        else scoring.score(">=", Decimal(1), rates[i.metric], i.weight)
        for i in scheme.indicators
    )
    if any(p is None for p in points):
        return Scored(points, None)
    return Scored(points, sum((p for p in points if p is not None), Decimal("0.00")))


def ranks(scores: dict[str, Decimal | None]) -> dict[str, int | None]:
    """Competition ranks by score, highest first; None for the unassessed."""
    ordered = sorted((s for s in scores.values() if s is not None), reverse=True)
    first: dict[Decimal, int] = {}
    for position, value in enumerate(ordered, start=1):
        first.setdefault(value, position)
    return {key: None if s is None else first[s] for key, s in scores.items()}
