"""The assessment's periods, points and ranks (services/reporting/assessment.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.reporting.assessment import DEFAULT_SCHEME, Period, check_month, periods, ranks, score


def test_a_month_counts_to_its_end_and_a_day_inside_it() -> None:
    february = Period(2017, 2)
    assert (february.start, february.end, february.label) == (
        date(2017, 2, 1),
        date(2017, 2, 28),
        "2017-02",
    )
    assert february.day(None) == february.day(date(2017, 9, 1)) == date(2017, 2, 28)
    assert february.day(date(2017, 2, 10)) == date(2017, 2, 10)
    with pytest.raises(ValueError, match="before the period 2017-02 begins"):
        february.day(date(2017, 1, 31))
    assert february.previous() == Period(2017, 1) and not Period(2017, 1).has_previous()
    year = Period(2016, None)
    assert (year.start, year.end, year.label) == (date(2016, 1, 1), date(2016, 12, 31), "2016")
    assert year.previous() == Period(2015, None) and year.has_previous()
    with pytest.raises(ValueError, match="month 0 is not a month"):
        check_month(0)
    with pytest.raises(ValueError, match="fiscalYear 0 is not between 2000 and 2100"):
        periods(0, None, None)  # before any date of year 0 is made


def test_points_are_capped_rounded_half_up_and_need_every_rate() -> None:
    scored = score({"on_time_rate": Decimal("0.8333"), "closure_rate_due": Decimal(1)},
                   DEFAULT_SCHEME)  # fmt: skip
    assert scored.points == (Decimal("41.67"), Decimal("50.00"))
    assert scored.score == Decimal("91.67")
    unrated = score({"on_time_rate": None, "closure_rate_due": Decimal(1)}, DEFAULT_SCHEME)
    assert (unrated.points, unrated.score) == ((None, Decimal("50.00")), None)


def test_equal_scores_share_a_rank_and_the_unassessed_have_none() -> None:
    scores = {"A": Decimal(90), "B": Decimal(95), "C": Decimal(90), "D": None, "E": Decimal(80)}
    assert ranks(scores) == {"B": 1, "A": 2, "C": 2, "E": 4, "D": None}
