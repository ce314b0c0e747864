"""The self-evaluation form's layout (form.py) and its workbook (form_xlsx.py), from a
selfEvaluation answer as GraphQL gives it."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from services.reporting.form import COLUMNS, Cell, footer, layout, placed, wan
from services.reporting.form_xlsx import workbook


def answer(**changes: Any) -> dict[str, Any]:
    table = {
        "kind": "project", "fiscalYear": 2017, "asOf": "2017-08-31", "lastDay": "2017-08-31",
        "title": "官渡区智慧官渡—网格化运行", "lineId": "GD-ZHGD", "departmentCode": "GD-CGJ",
        "department": "官渡区城市管理综合行政执法局",
        "implementingUnits": ["官渡区数字化城市管理办公室", "官渡区综合行政执法大队"],
        "funds": {
            "initialBudget": "36890100.00", "adjustedBudget": "36890100.00",
            "executed": "3907946.12", "executionRate": "0.1059", "weight": "10",
            "score": "1.06",
            "bySource": [
                {"source": "appropriation", "sourceName": "财政拨款",
                 "initialBudget": "36890100.00", "adjustedBudget": "36890100.00",
                 "executed": "3907946.12"},
                {"source": "carryover", "sourceName": "上年结转", "initialBudget": "0.00",
                 "adjustedBudget": "5000.00", "executed": "4999.99"},
            ],
        },
        "indicators": [
            {"targetId": "a", "level1": "产出指标", "level2": "时效指标", "name": "资金到位率",
             "metric": "arrival_rate", "comparator": ">=", "value": "1", "unit": "%",
             "actual": "0.7303", "weight": "10", "score": "7.30", "deviationNote": None},
            {"targetId": "b", "level1": "产出指标", "level2": "数量指标", "name": "先行处置案件",
             "metric": "advance_disposals", "comparator": ">=", "value": "15000", "unit": "件",
             "actual": "19524", "weight": "10", "score": "10.00", "deviationNote": "超额完成"},
        ],
        "goal": {"expected": None, "actual": None},
        "total": "18.36", "grade": "差", "projectionDigest": "ab" * 32,
    }  # fmt: skip
    return table | changes


def test_money_is_in_wan_yuan_half_up_to_two_places() -> None:
    assert wan("36890100.00") == Decimal("3689.01")
    assert wan("3907946.12") == Decimal("390.79")
    assert wan("50.00") == Decimal("0.01")  # 0.005 万 rounds up
    assert wan("49.99") == Decimal("0.00")
    assert Cell(Decimal("3689.01"), "wan").shown() == "3,689.01"
    assert Cell(Decimal("0.7303"), "rate").shown() == "73.03%"
    assert Cell(Decimal("452034"), "count").shown() == "452,034"


@pytest.mark.parametrize("indicators", [None, []])
def test_every_row_fills_the_grid(indicators: list[Any] | None) -> None:
    table = answer() if indicators is None else answer(indicators=indicators)
    cells = placed(layout(table))
    taken: set[tuple[int, int]] = set()
    for r, c, cell in cells:
        spanned = {(r + i, c + j) for i in range(cell.rows) for j in range(cell.span)}
        assert not taken & spanned, (r, c, cell)
        taken |= spanned
    rows = max(r for r, _ in taken) + 1
    assert taken == {(r, c) for r in range(rows) for c in range(COLUMNS)}


def test_a_row_that_does_not_fill_the_grid_is_refused() -> None:
    with pytest.raises(ValueError, match="row 0"):
        placed([[Cell("x", span=COLUMNS - 1)]])


def shown(table: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {cell.shown(): (r, c) for r, c, cell in placed(layout(table))}


def test_the_layout_carries_the_figures_of_the_answer() -> None:
    cells = shown(answer())
    for text in ("项目支出绩效自评表", "（2017年度）", "3,689.01", "390.79", "10.59%", "1.06",
                 "其中：财政拨款", "上年结转", "0.50", "73.03%", "19,524", "≥100.00%",
                 "≥15,000件", "7.30", "超额完成", "18.36", "等级：差",
                 "官渡区数字化城市管理办公室、官渡区综合行政执法大队"):  # fmt: skip
        assert text in cells, text
    assert "30" in {c.shown() for _, _, c in placed(layout(answer()))}  # 10 + 10 + 10
    department = shown(answer(kind="department", title="X整体支出"))
    assert "部门整体支出绩效自评表" in department and "部门名称" in department


def test_the_workbook_holds_numbers_with_formats_merged_cells_and_a_traceable_footer() -> None:
    table = answer()
    body = workbook(layout(table), "项目支出绩效自评表", footer(table, table["projectionDigest"]))
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    values = {ws.cell(r, c).value: ws.cell(r, c) for r in range(1, 30) for c in range(1, 11)}
    assert values["项目支出绩效自评表"].coordinate == "A1"
    assert "A1:J1" in {str(m) for m in ws.merged_cells.ranges}
    budget = values[3689.01]
    assert budget.number_format == "#,##0.00" and isinstance(budget.value, float)
    assert values[390.79].number_format == "#,##0.00"
    assert values[0.1059].number_format == "0.00%"
    assert values[19524].number_format == "#,##0"
    assert values["资金到位率"].row == values[0.7303].row
    assert ws.page_setup.paperSize == 9 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert {ws.page_setup.fitToWidth, ws.page_setup.fitToHeight} <= {None, 1}  # 1 wide, 1 high
    assert "ab" * 32 in ws.oddFooter.left.text and "2017-08-31" in ws.oddFooter.left.text
