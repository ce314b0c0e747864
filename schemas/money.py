"""Exact decimal types of the contract (docs/contract.md section 2).

Money travels as a JSON string in yuan with at most two decimals. A JSON number
where money is expected is refused with its own error code, because a float has
already lost the cents by the time we see it.  Each refusal is a pydantic custom
error whose type *is* the ledger's rejection reason code.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

MONEY_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,2})?$"
DECIMAL_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"
_MONEY_RE = re.compile(MONEY_PATTERN)
_DECIMAL_RE = re.compile(DECIMAL_PATTERN)

CENT = Decimal("0.01")
RATE_QUANTUM = Decimal("0.0001")


def _money(value: Any) -> Decimal:
    if isinstance(value, Decimal):  # already parsed (model built in Python)
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "amount_must_be_string",
            'money must be a JSON string such as "1234.56", not {kind}',
            {"kind": type(value).__name__},
        )
    if not _MONEY_RE.fullmatch(value):
        raise PydanticCustomError(
            "invalid_money_format",
            "money must match {pattern} (yuan, at most two decimals), got '{value}'",
            {"pattern": MONEY_PATTERN, "value": value[:40]},
        )
    return Decimal(value)


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise PydanticCustomError("amount_must_be_positive", "amount must be > 0")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise PydanticCustomError("amount_must_not_be_negative", "amount must be >= 0")
    return value


def _non_zero(value: Decimal) -> Decimal:
    if value == 0:
        raise PydanticCustomError("amount_must_not_be_zero", "amount must not be 0")
    return value


def _quantity(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str) or not _DECIMAL_RE.fullmatch(value):
        raise PydanticCustomError(
            "invalid_decimal",
            "must be a decimal string matching {pattern}",
            {"pattern": DECIMAL_PATTERN},
        )
    return Decimal(value)


def _weight(value: Any) -> Decimal:
    # A JSON integer is allowed for weights (docs/contract.md section 3); floats are not.
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return _quantity(value)


def format_money(value: Decimal) -> str:
    return str(value.quantize(CENT))


_money_schema = WithJsonSchema(
    {"type": "string", "pattern": MONEY_PATTERN, "examples": ["36890100.00"]}
)
_serialize = PlainSerializer(format_money, return_type=str)

Money = Annotated[Decimal, BeforeValidator(_money), _money_schema, _serialize]
"""Signed money (e.g. a budget adjustment)."""

PositiveMoney = Annotated[
    Decimal, BeforeValidator(_positive), BeforeValidator(_money), _money_schema, _serialize
]
NonNegativeMoney = Annotated[
    Decimal, BeforeValidator(_non_negative), BeforeValidator(_money), _money_schema, _serialize
]
NonZeroMoney = Annotated[
    Decimal, BeforeValidator(_non_zero), BeforeValidator(_money), _money_schema, _serialize
]
DecimalString = Annotated[
    Decimal,
    BeforeValidator(_quantity),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["0.95"]}),
    PlainSerializer(str, return_type=str),
]
Weight = Annotated[
    Decimal,
    BeforeValidator(_weight),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": DECIMAL_PATTERN},
            ],
            "examples": [10, "7.5"],
        }
    ),
    PlainSerializer(str, return_type=str),
]


def rate(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """A rate as the contract defines it: half-up to 4 places, None on a zero denominator."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_QUANTUM, ROUND_HALF_UP)
