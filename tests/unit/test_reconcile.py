"""Printed figures against the evaluation's exact amounts and counts, at their own precision."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from services.reporting.errors import UserInputError
from services.reporting.reconcile import Printed, reconcile

# the grid-management centre's 2017 figures (the seed report), as metric_values gives them
METRICS = {
    "adjusted_budget": D("36890100.00"),
    "arrived": D("26942600.00"),
    "spent": D("3907946.12"),
    "accepted": D(452034),
    "closed": D(437273),
    "disposed": D(9844),
    "dispatched": D(10000),
    "due": D(0),
    "due_closed": D(0),
    "closed_on_time": D(0),
}


def check(metric: str, value: str, unit: str) -> tuple[str | None, bool, str | None]:
    found = reconcile(Printed(metric, value, unit), METRICS, "printed[0]")
    text = [None if v is None else str(v) for v in (found.computed, found.difference)]
    return text[0], found.reproduces, text[1]


def test_the_seed_reports_figures_reproduce_in_their_units() -> None:
    assert check("arrival_rate", "73.03", "percent") == ("73.03", True, "0.00")
    assert check("execution_rate", "10.59", "percent") == ("10.59", True, "0.00")
    assert check("spent_of_arrived_rate", "14.50", "percent") == ("14.50", True, "0.00")
    assert check("closure_rate", "96.73", "percent") == ("96.73", True, "0.00")
    assert check("closure_rate", "0.9673", "fraction") == ("0.9673", True, "0.0000")
    assert check("adjusted_budget", "3689.01", "wan_yuan") == ("3689.01", True, "0.00")
    assert check("spent", "3907946.12", "yuan") == ("3907946.12", True, "0.00")
    assert check("accepted", "452,034", "count") == ("452034", True, "0")


def test_a_figure_that_does_not_reproduce_says_by_how_much() -> None:
    # 9,844 of 10,000 disposed is 98.44 %; a report printing 98.46 % is 0.02 points off
    assert check("disposal_rate", "98.46", "percent") == ("98.44", False, "0.02")
    assert check("closure_rate", "96.7", "percent") == ("96.7", True, "0.0")
    assert check("spent", "390.8", "wan_yuan") == ("390.8", True, "0.0")
    assert check("spent", "391", "wan_yuan") == ("391", True, "0")
    assert check("accepted", "452000", "count") == ("452034", False, "-34")


def test_rates_are_rounded_once_from_the_exact_fraction() -> None:
    # 98,445 of 100,000: 98.445 % is 98.4 at one decimal; rounding its 4-place rate (0.9845,
    # half-up) first would give 98.5
    metrics = {"closed": D(98445), "accepted": D(100000)}
    found = reconcile(Printed("closure_rate", "98.4", "percent"), metrics, "printed[0]")
    assert (found.computed, found.reproduces) == (D("98.4"), True)


def test_a_rate_without_denominator_has_no_computed_figure() -> None:
    assert check("on_time_rate", "100.00", "percent") == (None, False, None)


@pytest.mark.parametrize(
    ("printed", "message"),
    [
        (Printed("closure_rate", "96.73", "yuan"), "printed[0].unit 'yuan': closure_rate"),
        (Printed("spent", "12", "percent"), "printed[0].unit 'percent': spent is printed in"),
        (Printed("closure_rate", "96.73%", "percent"), "printed[0].value '96.73%' is not a"),
        (Printed("closure_rate", "NaN", "percent"), "printed[0].value 'NaN' is not a decimal"),
        (Printed("happiness", "1", "count"), "metric 'happiness' is not a metric of"),
        (Printed("overdue", "1", "count"), "printed[0].metric 'overdue': a budget line has"),
    ],
)
def test_each_bad_printed_figure_is_refused_naming_its_field(
    printed: Printed, message: str
) -> None:
    with pytest.raises(UserInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        reconcile(printed, METRICS, "printed[0]")
