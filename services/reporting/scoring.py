"""The national self-evaluation scoring of docs/contract.md section 4. Pure."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

POINTS = Decimal("0.01")
GRADES = ((Decimal(90), "优"), (Decimal(80), "良"), (Decimal(60), "中"))


def score(comparator: str, value: Decimal, actual: Decimal | None, weight: Decimal) -> Decimal:
    """One indicator's score, rounded half-up to 2 decimals; 0 when its actual is unknown."""
    if actual is None:
        return Decimal("0.00")
    if comparator == ">=":
        share = Decimal(1) if value <= 0 else min(actual / value, Decimal(1))
    elif comparator == "<=":
        share = Decimal(1) if actual <= 0 else min(value / actual, Decimal(1))
    elif actual == value:
        share = Decimal(1)
    else:
        share = Decimal(0) if value == 0 else max(1 - abs(actual - value) / value, Decimal(0))
    return (weight * share).quantize(POINTS, ROUND_HALF_UP)


def grade(total: Decimal, total_weight: Decimal) -> str | None:
    """优 ≥ 90, 良 80–89.99, 中 60–79.99, 差 < 60, on the share of the total weight × 100."""
    if total_weight <= 0:
        return None
    percent = total / total_weight * 100
    return next((name for floor, name in GRADES if percent >= floor), "差")
