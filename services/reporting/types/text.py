"""How the types write decimals."""

from __future__ import annotations

from decimal import Decimal


def plain(value: Decimal) -> str:
    """A decimal as a plain string, never in exponent form (PostgreSQL's 10000 may come
    back from asyncpg as Decimal('1E+4'))."""
    return format(value, "f")


def plain_or_none(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def text(value: Decimal | None) -> str | None:
    """A rate or score as str() writes it; None stays None."""
    return None if value is None else str(value)
