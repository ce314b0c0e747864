"""The self-evaluation table laid out as the national form (项目支出绩效自评表 /
部门整体支出绩效自评表): rows of cells on a grid of COLUMNS columns, with their spans, drawn
once here and written by the page (templates/self_evaluation.html) and the spreadsheet
(form_xlsx.py) alike, so the two cannot differ.

A cell holds what it shows as a value of its kind: text, money in 万元 (Decimal, half-up to
0.01), a rate (a fraction, shown as a percentage to 2 places), points or a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from schemas.money import CENT
from services.reporting.names import COMPARATORS

COLUMNS = 10
WIDTHS = (12, 9, 9, 15, 11, 11, 7, 9, 9, 14)  # the columns' relative widths (Excel's characters)
WAN = Decimal(10_000)


@dataclass(frozen=True)
class Cell:
    value: str | Decimal | int | None  # None: an empty cell
    kind: str = "text"  # text | head | title | subtitle | wan | rate | points | count
    span: int = 1  # columns
    rows: int = 1  # rows it spans downwards

    def shown(self) -> str:
        """The cell as the page prints it."""
        v = self.value
        if v is None:
            return ""
        if self.kind == "wan":
            return f"{Decimal(v):,.2f}"
        if self.kind == "rate":
            return f"{Decimal(v) * 100:.2f}%"
        if self.kind == "count":
            return f"{Decimal(v):,f}"
        return str(v)


Row = list[Cell]


def wan(yuan: str) -> Decimal:
    """Yuan (an exact decimal string) in 万元, half-up to two places."""
    return (Decimal(yuan) / WAN).quantize(CENT, ROUND_HALF_UP)


def _target(i: dict[str, Any]) -> str:
    """年度指标值: '≥95.00%' for a rate, '≥15,000件' for a count."""
    comparator = COMPARATORS.get(i["comparator"], i["comparator"])
    if i["metric"].endswith("_rate"):
        return f"{comparator}{Decimal(i['value']) * 100:.2f}%"
    return f"{comparator}{Decimal(i['value']):,f}{i['unit']}"


def _actual(i: dict[str, Any]) -> Cell:
    """实际完成值: a rate as a rate, else a count (in the target's unit)."""
    if i["actual"] is None:
        return Cell("—")
    return Cell(Decimal(i["actual"]), "rate" if i["metric"].endswith("_rate") else "count")


def _funds(funds: dict[str, Any], head: str) -> list[Row]:
    sources = funds["bySource"]
    rows: list[Row] = [
        [Cell(head, "head", rows=2 + len(sources)), Cell("", "head", 2), Cell("年初预算数", "head"),
         Cell("全年预算数", "head"), Cell("全年执行数", "head"), Cell("分值", "head"),
         Cell("执行率", "head"), Cell("得分", "head", 2)],
        [Cell("年度资金总额", span=2), Cell(wan(funds["initialBudget"]), "wan"),
         Cell(wan(funds["adjustedBudget"]), "wan"), Cell(wan(funds["executed"]), "wan"),
         Cell(Decimal(funds["weight"]), "points"),
         Cell(None if funds["executionRate"] is None else Decimal(funds["executionRate"]),
              "rate"),
         Cell(Decimal(funds["score"]), "points", 2)],
    ]  # fmt: skip
    for n, source in enumerate(sources):
        label = ("其中：" if n == 0 else "") + source["sourceName"]
        rows.append(
            [Cell(label, span=2), Cell(wan(source["initialBudget"]), "wan"),
             Cell(wan(source["adjustedBudget"]), "wan"), Cell(wan(source["executed"]), "wan"),
             Cell("—"), Cell("—"), Cell("—", span=2)]
        )  # fmt: skip
    return rows


def _indicators(t: dict[str, Any]) -> list[Row]:
    indicators = t["indicators"]
    rows: list[Row] = [
        [Cell("绩效指标", "head", rows=1 + max(len(indicators), 1)), Cell("一级指标", "head"),
         Cell("二级指标", "head"), Cell("三级指标", "head"), Cell("年度指标值", "head"),
         Cell("实际完成值", "head"), Cell("分值", "head"), Cell("得分", "head"),
         Cell("偏差原因分析及改进措施", "head", 2)],
    ]  # fmt: skip
    for i in indicators:
        rows.append(
            [Cell(i["level1"]), Cell(i["level2"]), Cell(i["name"]), Cell(_target(i)),
             _actual(i), Cell(Decimal(i["weight"]), "points"), Cell(Decimal(i["score"]), "points"),
             Cell(i["deviationNote"], span=2)]
        )  # fmt: skip
    if not indicators:
        rows.append([Cell("未设定绩效指标", span=COLUMNS - 1)])
    return rows


def layout(t: dict[str, Any]) -> list[Row]:
    """The form's rows for a selfEvaluation answer (GraphQL's field names)."""
    project = t["kind"] == "project"
    weights = Decimal(t["funds"]["weight"]) + sum(
        (Decimal(i["weight"]) for i in t["indicators"]), Decimal(0)
    )
    goal = t["goal"]
    return [
        [Cell("项目支出绩效自评表" if project else "部门整体支出绩效自评表", "title", COLUMNS)],
        [Cell(f"（{t['fiscalYear']}年度）", "subtitle", COLUMNS)],
        [Cell("项目名称" if project else "部门名称", "head"), Cell(t["title"], span=COLUMNS - 1)],
        [Cell("主管部门", "head"), Cell(t["department"], span=4), Cell("实施单位", "head", 2),
         Cell("、".join(t["implementingUnits"]), span=3)],
        *_funds(t["funds"], "项目资金（万元）" if project else "部门资金（万元）"),
        [Cell("年度总体目标", "head", rows=2), Cell("预期目标", "head", 4),
         Cell("实际完成情况", "head", 5)],
        [Cell(goal["expected"] or "（未填报）", span=4),
         Cell(goal["actual"] or "（未填报）", span=5)],
        *_indicators(t),
        [Cell("总分", "head", 6), Cell(weights, "points"), Cell(Decimal(t["total"]), "points"),
         Cell(f"等级：{t['grade'] or '—'}", span=2)],
    ]  # fmt: skip


def placed(rows: list[Row]) -> list[tuple[int, int, Cell]]:
    """Each cell with its (row, column) on the grid, as an HTML table lays cells out: a cell
    takes the first column its row has free (cells spanning rows from above take theirs)."""
    taken: set[tuple[int, int]] = set()
    found = []
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while (r, c) in taken:
                c += 1
            found.append((r, c, cell))
            taken.update((r + dr, c + dc) for dr in range(cell.rows) for dc in range(cell.span))
            c += cell.span
        if any((r, col) not in taken for col in range(COLUMNS)) or (r, COLUMNS) in taken:
            raise ValueError(f"row {r} of the form does not fill its {COLUMNS} columns")
    return found


def footer(t: dict[str, Any], digest: str) -> str:
    """What ties a printed copy to its events: the day counted and the projection digest."""
    as_of = t["asOf"] or f"{t['lastDay']}（当前）"
    return f"数据截至 {as_of} · 投影摘要 sha256 {digest}"
