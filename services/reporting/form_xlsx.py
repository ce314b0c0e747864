"""The self-evaluation form (form.py) as an .xlsx workbook (XlsxWriter): merged cells as on
the printed form, money, rates, points and counts as numbers with number formats, one A4 page
when printed, the day counted and the projection digest in the page footer."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import xlsxwriter

from services.reporting.exports import neutralised
from services.reporting.form import COLUMNS, WIDTHS, Cell, Row, placed

A4 = 9  # Excel's paper code
BORDERED = {"border": 1, "valign": "vcenter", "text_wrap": True, "font_name": "SimSun",
            "font_size": 10}  # fmt: skip
FORMATS: dict[str, dict[str, Any]] = {
    "text": BORDERED,
    "head": {**BORDERED, "bold": True, "align": "center", "bg_color": "#EEF2F8"},
    "title": {
        "bold": True,
        "align": "center",
        "valign": "vcenter",
        "font_size": 16,
        "font_name": "SimHei",
    },  # fmt: skip
    "subtitle": {"align": "center", "valign": "vcenter", "font_name": "SimSun"},
    "wan": {**BORDERED, "num_format": "#,##0.00"},
    "rate": {**BORDERED, "num_format": "0.00%"},
    "points": {**BORDERED, "num_format": "0.00"},
    "count": {**BORDERED, "num_format": "#,##0"},
}


def _value(cell: Cell) -> str | float | None:
    """What the sheet holds: numbers as numbers (Decimal to float: the form's values have at
    most 4 decimals, which a double keeps), text neutralised against formulas."""
    if isinstance(cell.value, Decimal | int):
        return float(cell.value)
    return None if cell.value is None else neutralised(cell.value)


def workbook(rows: list[Row], sheet: str, footer: str) -> bytes:
    """The form as an .xlsx file."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    formats = {kind: book.add_format(spec) for kind, spec in FORMATS.items()}
    ws = book.add_worksheet(sheet[:31])
    for column, width in enumerate(WIDTHS):
        ws.set_column(column, column, width)
    ws.set_row(0, 30)
    last_row = 0
    for r, c, cell in placed(rows):
        value, style = _value(cell), formats[cell.kind]
        if cell.span > 1 or cell.rows > 1:
            ws.merge_range(r, c, r + cell.rows - 1, c + cell.span - 1, value, style)
        elif value is None:
            ws.write_blank(r, c, None, style)
        else:
            ws.write(r, c, value, style)
        last_row = max(last_row, r + cell.rows - 1)
    ws.set_paper(A4)
    ws.fit_to_pages(1, 1)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.8)
    ws.print_area(0, 0, last_row, COLUMNS - 1)
    ws.set_footer("&L&8" + footer.replace("&", "&&") + "&R&8第 &P 页，共 &N 页")
    book.close()
    return out.getvalue()
