"""What the exported files (CSV, spreadsheets) write: cells that a spreadsheet would run as
a formula are neutralised (names come from upstream systems)."""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?\d[\d,]*(\.\d+)?( ?%)?")  # "+1.50", "-3", "96.73 %" stay as they are


def neutralised(cell: str) -> str:
    """A text cell that starts like a formula (``=``, ``+``, ``-``, ``@``, tab, CR) gets a
    leading apostrophe, as OWASP advises; numbers are left alone."""
    if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
