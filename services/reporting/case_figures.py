"""Case figures, pure: the counts of a group of cases (a department's, a channel's, an
assignee's, ...) and their rates, half-up to 4 places and None on a zero denominator
(docs/contract.md section 4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schemas.money import rate
from services.common.projections import CASE_COUNTS, DEADLINE_COUNTS, OVERDUE_AGES

Rate = Decimal | None
Row = Mapping[str, Any]


@dataclass(frozen=True)
class CaseFigures:
    reported: int
    accepted: int
    filed: int
    dispatched: int
    disposed: int
    closed: int
    closed_on_time: int
    due: int
    open: int
    due_closed: int
    overdue: int
    overdue_by_age: Mapping[str, int]  # by the names of OVERDUE_AGES
    advance_disposals: int
    filing_rate: Rate
    dispatch_rate: Rate
    disposal_rate: Rate
    closure_rate: Rate
    closure_rate_due: Rate
    on_time_rate: Rate


# the fields of CaseFigures: counts as counted, rates of them
CASE_COUNTED = ("reported", "accepted", "filed", "dispatched", "disposed", "closed",
                "closed_on_time", "due", "open", "due_closed", "overdue",
                "advance_disposals")  # fmt: skip
# each rate of docs/contract.md section 4: (numerator, denominator)
CASE_RATE_TERMS = {
    "filing_rate": ("filed", "accepted"),
    "dispatch_rate": ("dispatched", "filed"),
    "disposal_rate": ("disposed", "dispatched"),
    "closure_rate": ("closed", "accepted"),
    "closure_rate_due": ("due_closed", "due"),
    "on_time_rate": ("closed_on_time", "due"),
}
CASE_RATES = tuple(CASE_RATE_TERMS)


def case_figures(counts: Row) -> CaseFigures:
    """The counts of a group of cases (CASE_COUNTS, open, DEADLINE_COUNTS) and their rates."""
    c = counts
    rates: dict[str, Any] = {n: rate(c[num], c[den]) for n, (num, den) in CASE_RATE_TERMS.items()}
    return CaseFigures(
        **{name: c[name] for name in CASE_COUNTED},
        overdue_by_age={age: c[f"overdue_{age}"] for age in OVERDUE_AGES},
        **rates,
    )


def summed(rows: Sequence[Row]) -> dict[str, int]:
    """Counts of rows that partition the cases (every case has one kind, one assignee)."""
    return {c: sum(row[c] for row in rows) for c in (*CASE_COUNTS, "open", *DEADLINE_COUNTS)}


Breakdown = tuple[tuple[str, CaseFigures], ...]  # (channel, category, ...; its figures)


@dataclass(frozen=True)
class CaseBreakdown:
    total: CaseFigures
    by_channel: Breakdown
    by_category: Breakdown
    by_kind: Breakdown
    by_assignee: Breakdown


def case_breakdown(grouped: Mapping[str, Sequence[Row]]) -> CaseBreakdown:
    """The figures of all the cases, and per value of each dimension."""

    def by(dimension: str) -> Breakdown:
        return tuple((row["value"], case_figures(row)) for row in grouped[dimension])

    return CaseBreakdown(
        case_figures(summed(grouped["kind"])), by("channel"), by("category"), by("kind"),
        by("assignee"),
    )  # fmt: skip
