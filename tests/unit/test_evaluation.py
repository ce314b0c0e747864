"""The evaluation's arithmetic (services/reporting/evaluation.py): Decimal in, Decimal out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.reporting import evaluation as e

D = Decimal
SUMS = dict.fromkeys(("initial_budget", "adjusted_budget", "arrived", "transferred", "spent",
                      "procurement_planned", "contracted"), D(0))  # fmt: skip


def test_budget_rates_are_none_without_denominator_and_money_is_to_the_cent() -> None:
    sums = SUMS | {"adjusted_budget": D("1000"), "spent": D("333.333"), "arrived": D(0)}
    b = e.budget(sums, (D(0), D(0)), [("basic", D("333.333"))], [], [])
    assert (b.spent, b.balance, b.execution_rate) == (D("333.33"), D("666.67"), D("0.3333"))
    assert (b.arrival_rate, b.spent_of_arrived_rate, b.sangong_control_rate) == (D(0), None, None)
    assert b.by_category == (e.Share("basic", D("333.33"), D("1.0000")),)
    assert e.metric_values(b)["execution_rate"] == D("0.3333")


def test_targets_score_against_metrics_and_outputs() -> None:
    def target(metric: str, comparator: str, value: str) -> dict[str, object]:
        return {"metric": metric, "comparator": comparator, "value": D(value), "weight": D(50)}

    targets = [target("execution_rate", ">=", "0.9"), target("output:门前三包信息", ">=", "10")]
    outputs = [{"indicator": "门前三包信息", "quantity": D(4)}] * 2
    scores = e.score_targets(targets, {"execution_rate": D("0.45")}, outputs)
    assert [(s.actual, s.points) for s in scores.indicators] == [
        (D("0.45"), D("25.00")),
        (D(8), D("40.00")),
    ]
    assert (scores.score, scores.grade) == (D("65.00"), "中")
    assert e.score_targets([], {}, []) == e.Scores((), None, None)


def test_months_run_to_the_month_of_the_day_with_running_totals() -> None:
    rows = [{"month": date(2017, 2, 1), "adjusted": D(100), "arrived": D(50), "spent": D(25),
             "accepted": 4, "closed": 1}]  # fmt: skip
    points = e.monthly_points(2017, date(2017, 3, 9), rows)
    assert [p.month for p in points] == ["2017-01", "2017-02", "2017-03"]
    assert (points[0].arrival_rate, points[0].closure_rate) == (None, None)
    assert (points[2].spent_in_month, points[2].spent, points[2].execution_rate) == (
        D("0.00"),
        D("25.00"),
        D("0.2500"),
    )
    assert len(e.monthly_points(2017, date(2026, 12, 2), [])) == 12
    # a row of the next calendar year (a case of the year closed in January) is not January's
    later = [*rows, {"month": date(2018, 2, 1), "accepted": 0, "closed": 3}]
    assert e.monthly_points(2017, date(2017, 3, 9), later) == points


def test_changes_are_relative_for_amounts_only() -> None:
    changes = e.year_over_year(
        {"spent": D("74"), "execution_rate": D("0.5")},
        {"spent": D("100"), "execution_rate": D("0.4"), "closed": D(0)},
    )
    assert changes == [
        e.Change("spent", D(74), D(100), D(-26), D("-0.2600")),
        e.Change("execution_rate", D("0.5"), D("0.4"), D("0.1"), None),
        e.Change("closed", None, D(0), None, None),
    ]


def test_days_and_years() -> None:
    assert e.evaluation_day(None, 2017, date(2026, 12, 2)) == date(2026, 12, 2)
    with pytest.raises(ValueError, match="outside fiscal year 2017"):
        e.evaluation_day(date(2016, 12, 31), 2017, date(2026, 12, 2))
    for year in (0, 1999, 2101):  # years no event can belong to: no date arithmetic on them
        with pytest.raises(e.UserInputError, match=f"fiscalYear {year} is not between 2000"):
            e.evaluation_day(None, year, date(2026, 12, 2))
    key = e.DepartmentKey("D", 2016, date(2016, 2, 29), True)
    assert key.year_before() == e.DepartmentKey("D", 2015, date(2015, 2, 28), True)
