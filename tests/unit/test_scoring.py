"""Scores and grades as docs/contract.md section 4 defines them."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from services.reporting.scoring import grade, score


@pytest.mark.parametrize(
    ("comparator", "value", "actual", "weight", "expected"),
    [
        (">=", "0.95", "0.9673", "10", "10.00"),  # met: full marks, never more
        (">=", "1.0000", "0.7303", "10", "7.30"),  # 10 × 0.7303
        (">=", "3", "2", "5", "3.33"),  # 5 × 2/3 = 3.333…
        (">=", "0.9", "0.8555", "3", "2.85"),  # 3 × 0.950555… = 2.8516…
        ("<=", "100", "125", "8", "6.40"),  # 8 × 100/125
        ("<=", "100", "0", "8", "8.00"),  # full marks when actual is 0
        ("<=", "100", "90", "8", "8.00"),
        ("=", "12", "12", "4", "4.00"),
        ("=", "12", "9", "4", "3.00"),  # 4 × (1 − 3/12)
        ("=", "12", "30", "4", "0.00"),  # floored at 0
        (">=", "0.95", None, "10", "0.00"),  # no actual: no points
        (">=", "0.5", "0.33335", "1", "0.67"),  # 0.6667 rounds half-up
        (">=", "1", "0.125", "1", "0.13"),  # 0.125 → 0.13, half-up not half-even
    ],
)
def test_score(comparator: str, value: str, actual: str | None, weight: str, expected: str) -> None:
    got = score(comparator, D(value), None if actual is None else D(actual), D(weight))
    assert str(got) == expected


@pytest.mark.parametrize(
    ("total", "weight", "expected"),
    [("90", "100", "优"), ("89.99", "100", "良"), ("80", "100", "良"), ("79.99", "100", "中"),
     ("60", "100", "中"), ("59.99", "100", "差"), ("45", "50", "优"), ("0", "0", None)],
)  # fmt: skip
def test_grade_is_on_the_share_of_the_total_weight(
    total: str, weight: str, expected: str | None
) -> None:
    assert grade(D(total), D(weight)) == expected
