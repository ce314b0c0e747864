"""The deadline figures' daily deltas, summed up to a day, against their definitions."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.common.projections import DEADLINE_COUNTS, OVERDUE_AGES
from services.performance.deadlines import NOT_CLOSED, deadline_deltas

START = date(2017, 1, 1)
days = st.integers(0, 80).map(lambda n: START + timedelta(n))


def defined(deadline: date, closed: date, since: date, day: date) -> Counter[str]:
    """The figures of one case as of a day, as docs/contract.md defines them."""
    if since > day:
        return Counter()
    figures = Counter(
        due=int(min(deadline, closed) <= day),
        due_closed=int(closed <= day),
        overdue=int(deadline <= day < closed),
    )
    for age, (low, high) in OVERDUE_AGES.items():
        late = (day - deadline).days
        figures[f"overdue_{age}"] = int(
            deadline <= day < closed and low <= late and (high is None or late <= high)
        )
    return figures


@given(deadline=days, closed=days | st.just(NOT_CLOSED), since=days)
def test_the_deltas_up_to_any_day_are_the_figures_of_that_day(
    deadline: date, closed: date, since: date
) -> None:
    deltas = list(deadline_deltas(deadline, closed, since))
    assert {count for _, count, _ in deltas} <= set(DEADLINE_COUNTS)
    for n in range(-2, 120):
        day = START + timedelta(n)
        summed: Counter[str] = Counter()
        for when, count, sign in deltas:
            if when <= day:
                summed[count] += sign
        assert +summed == +defined(deadline, closed, since, day), day


def test_an_open_case_ends_no_span() -> None:
    deltas = list(deadline_deltas(date(2017, 3, 1), NOT_CLOSED, date(2017, 2, 20)))
    assert all(day < NOT_CLOSED for day, _, _ in deltas)
    assert ("overdue_over_30", 1) in [(c, s) for d, c, s in deltas if d == date(2017, 4, 1)]
