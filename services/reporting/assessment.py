"""The monthly assessment (月通报, 月考核, 年总评) of a case platform's assignees: the streets
and functional departments its cases are dispatched to. Pure: periods, schemes, scores, ranks.

A period is a month of a fiscal year, or the whole year (the year-end review). Its figures
count as of its last day, or as of an earlier day inside it: once a month has ended its
bulletin no longer changes. An assignee's score is Σ weight × min(rate, 1) over the
indicators of the scheme in force (each rounded half-up to 2 decimals, as in docs/contract.md
section 4), on a 100-point scale. An assignee with no value for an indicator (nothing fell
due in the period, say) is listed as unassessed, without score or rank, rather than ranked
last: an empty month is no evidence of bad work. Ranks are competition ranks (1, 2, 2, 4).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from services.reporting import scoring
from services.reporting.case_figures import CaseFigures, case_figures
from services.reporting.errors import UserInputError
from services.reporting.evaluation import check_fiscal_year, evaluation_day


@dataclass(frozen=True)
class SchemeIndicator:
    metric: str  # a case rate of docs/contract.md section 4 (schemas.events.AssessmentMetric)
    name: str | None
    weight: Decimal


@dataclass(frozen=True)
class Scheme:
    indicators: tuple[SchemeIndicator, ...]
    effective_month: int | None = None  # None: the default scheme
    document: str | None = None


def scheme_of(row: Mapping[str, Any] | None) -> Scheme:
    """The scheme of an assessment_schemes row (indicators decoded); None: the default."""
    if row is None:
        return DEFAULT_SCHEME
    indicators = tuple(
        SchemeIndicator(i["metric"], i["name"], Decimal(i["weight"])) for i in row["indicators"]
    )
    return Scheme(indicators, row["effective_month"], row["document"])


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
            raise UserInputError(
                f"asOf {as_of.isoformat()} is before the period {self.label} begins "
                f"({self.start.isoformat()})"
            )
        return as_of


def check_month(month: int | None) -> None:
    if month is not None and not 1 <= month <= 12:
        raise UserInputError(f"month {month} is not a month: 1 to 12, or absent for the whole year")


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


def periods(fiscal_year: int, month: int | None, as_of: date | None) -> list[tuple[Period, date]]:
    """The period asked and the day it counts to, then the period it is compared with (none
    before January) counted to its end."""
    check_fiscal_year(fiscal_year)
    check_month(month)
    period = Period(fiscal_year, month)
    if as_of is not None:
        evaluation_day(as_of, fiscal_year, period.end)  # inside the fiscal year
    found = [(period, period.day(as_of))]
    if period.has_previous():
        found.append((period.previous(), period.previous().end))
    return found


Assessed = dict[str, tuple[CaseFigures, Scored]]  # by assignee


def assessed(rows: Sequence[Mapping[str, Any]], scheme: Scheme) -> Assessed:
    """Each assignee's figures (rows of case counts by assignee) and its scores."""
    found = {}
    for row in rows:
        cases = case_figures(row)
        rates = {i.metric: getattr(cases, i.metric) for i in scheme.indicators}
        found[row["value"]] = (cases, score(rates, scheme))
    return found


@dataclass(frozen=True)
class Standing:
    assignee: str
    cases: CaseFigures
    scored: Scored
    rank: int | None
    previous_score: Decimal | None
    previous_rank: int | None

    @property
    def score_change(self) -> Decimal | None:
        if self.scored.score is None or self.previous_score is None:
            return None
        return self.scored.score - self.previous_score

    @property
    def rank_change(self) -> int | None:
        """Positive when it moved up."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank


def standings(now: Assessed, before: Assessed) -> list[Standing]:
    """The assignees ranked (best first), then the unassessed by code, with the previous
    period's score and rank."""
    rank_now = ranks({a: scored.score for a, (_, scored) in now.items()})
    rank_before = ranks({a: scored.score for a, (_, scored) in before.items()})
    found = [
        Standing(
            assignee=code,
            cases=cases,
            scored=scored,
            rank=rank_now[code],
            previous_score=before[code][1].score if code in before else None,
            previous_rank=rank_before.get(code),
        )
        for code, (cases, scored) in now.items()
    ]
    found.sort(key=lambda s: (s.rank is None, s.rank or 0, s.assignee))
    return found


@dataclass(frozen=True)
class Bulletin:
    """The assessment of a period: what the bulletin (通报) shows."""

    department: str
    name: str | None
    period: Period
    as_of: date  # the last day counted
    scheme: Scheme
    total: CaseFigures  # all assignees together
    assignees: list[Standing]
    names: Mapping[str, str | None]  # the assignees' registered names
