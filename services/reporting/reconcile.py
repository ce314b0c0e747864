"""Printed figures checked against the events, pure (docs/contract.md section 9).

A report prints a figure at its own precision and in its own unit (98.46 %, 0.9673, 3907946.12
元, 390.79 万元, 452034 件). The figure is computed again from the evaluation's exact amounts and
counts (a rate from its numerator and denominator, not from its 4-place rounding), in the
printed unit, at the printed number of decimals, rounded half-up, and compared.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import floor

from services.reporting.case_figures import CASE_COUNTED, CASE_RATE_TERMS
from services.reporting.errors import UserInputError

# each rate of docs/contract.md section 4: (numerator, denominator); the case rates are
# those case_figures computes
RATES = {
    "arrival_rate": ("arrived", "adjusted_budget"),
    "execution_rate": ("spent", "adjusted_budget"),
    "spent_of_arrived_rate": ("spent", "arrived"),
    "sangong_control_rate": ("sangong_spent", "sangong_budget"),
    "procurement_execution_rate": ("contracted", "planned"),
    **CASE_RATE_TERMS,
}
MONEY = ("initial_budget", "adjusted_budget", "arrived", "transferred", "spent", "balance",
         "sangong_budget", "sangong_spent", "planned", "contracted")  # fmt: skip
# the printed units of each kind of metric, and what one of the metric is in them
UNITS: dict[str, dict[str, Fraction]] = {
    "rate": {"percent": Fraction(100), "fraction": Fraction(1)},
    "money": {"yuan": Fraction(1), "wan_yuan": Fraction(1, 10_000)},
    "count": {"count": Fraction(1)},
}


@dataclass(frozen=True)
class Printed:
    metric: str
    value: str
    unit: str
    line_id: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Reconciliation:
    printed: Printed
    computed: Decimal | None  # None: the figure has no value (a rate of a zero denominator)
    reproduces: bool
    difference: Decimal | None  # printed - computed, in the printed unit


COLUMNS = ("label", "metric", "value", "unit")  # and lineId, where a figure is a line's


def from_csv(text: str) -> list[Printed]:
    """A report's figures as CSV: a header row naming label, metric, value, unit and
    optionally lineId, then one figure per row."""
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (rows.fieldnames or [])]
    if missing:
        raise UserInputError(f"the CSV's header row lacks {', '.join(missing)}")
    return [
        Printed(
            metric=(row["metric"] or "").strip(),
            value=(row["value"] or "").strip(),
            unit=(row["unit"] or "").strip(),
            line_id=(row.get("lineId") or "").strip() or None,
            label=(row["label"] or "").strip() or None,
        )
        for row in rows
    ]


def kind(metric: str) -> str:
    """rate, money or count; UserInputError for a metric the contract does not define."""
    if metric in RATES:
        return "rate"
    if metric in CASE_COUNTED:
        return "count"
    if metric in MONEY:
        return "money"
    raise UserInputError(f"metric {metric!r} is not a metric of docs/contract.md section 4")


def reconcile(printed: Printed, metrics: Mapping[str, Decimal | None], at: str) -> Reconciliation:
    """A printed figure against the evaluation's ``metrics`` (metric_values); ``at`` names
    the printed figure in errors (``printed[2]``)."""
    units = UNITS[kind(printed.metric)]
    if printed.unit not in units:
        raise UserInputError(
            f"{at}.unit {printed.unit!r}: {printed.metric} is printed in one of {sorted(units)}"
        )
    try:
        value = Decimal(printed.value.strip().replace(",", ""))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise UserInputError(f"{at}.value {printed.value!r} is not a decimal number")
    if not all(name in metrics for name in RATES.get(printed.metric, (printed.metric,))):
        raise UserInputError(
            f"{at}.metric {printed.metric!r}: a budget line has budget figures only"
        )
    exact = _exact(printed.metric, metrics)
    if exact is None:
        return Reconciliation(printed, None, False, None)
    places = max(0, -int(value.as_tuple().exponent))
    computed = _half_up(exact * units[printed.unit], places)
    return Reconciliation(printed, computed, value == computed, value - computed)


def _exact(metric: str, metrics: Mapping[str, Decimal | None]) -> Fraction | None:
    if metric in RATES:
        numerator, denominator = (metrics[name] for name in RATES[metric])
        if not denominator or numerator is None:
            return None
        return Fraction(numerator) / Fraction(denominator)
    found = metrics[metric]
    return None if found is None else Fraction(found)


def _half_up(number: Fraction, places: int) -> Decimal:
    """``number`` rounded half away from zero to ``places`` decimals."""
    scaled = abs(number) * 10**places
    rounded = floor(scaled + Fraction(1, 2)) * (1 if number >= 0 else -1)
    return Decimal(rounded).scaleb(-places)
