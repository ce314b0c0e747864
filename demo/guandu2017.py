"""The demo year: the 2017 self-evaluation report of a district grid-management centre
(官渡区, 昆明) as contract events, generated deterministically (same bytes on every run, so
publishing it again is a no-op for the ledger).

Every figure below comes from the report; where the report gives only a total, the total
is spread plausibly and the comment says so. Departments codes are ours (the report has
none). Quotes in comments are the report's words.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from demo.base import (
    BASIC_LINE,
    BUREAU,
    DIGITAL_OFFICE,
    ENFORCEMENT_TEAM,
    GRID,
    PROJECT_LINE_GRID,
    SANGONG_LINE,
    YEAR,
    ZHGD_LINE,
    envelope,
    moment,
)
from demo.cases2017 import CATEGORIES, CATEGORY_WEIGHTS, FUNCTIONAL, STREETS, case_events

__all__ = [
    "BASIC_LINE",
    "BUREAU",
    "FUNCTIONAL",
    "GRID",
    "PROJECT_LINE_GRID",
    "SANGONG_LINE",
    "STREETS",
    "YEAR",
    "ZHGD_LINE",
    "budget_events",
    "case_events",
    "events",
]


def _finance(year: int) -> Callable[..., dict[str, Any]]:
    """The finance system's events of a year: ev(id, type, at, department, **data)."""

    def ev(eid: str, etype: str, at: datetime, dep: str, **data: Any) -> dict[str, Any]:
        return envelope(f"gd{year}-{eid}", etype, at, dep, "finance", data)

    return ev


def _sangong_line(year: int, spent: Decimal) -> Iterator[dict[str, Any]]:
    """The centre's "三公" line of a year: 0.5万 budgeted, ``spent`` paid in two instalments,
    the rest taken back in December."""
    ev, line_id, budget = _finance(year), f"{GRID}-{year}-SANGONG", Decimal("5000.00")
    yield ev(f"{line_id}-auth", "BudgetAuthorised", moment(1, 10, year=year), GRID,
             line_id=line_id, title="公务接待费", category="basic", amount=_money(budget),
             sangong="reception")  # fmt: skip
    for n, (month, part) in enumerate(zip((4, 10), _monthly(spent, range(2)), strict=True)):
        at = moment(month, 20, year=year)
        yield ev(f"{line_id}-arr-{n}", "FundsArrived", at, GRID, line_id=line_id,
                 amount=_money(part))  # fmt: skip
        yield ev(f"{line_id}-pay-{n}", "Disbursed", at, GRID, line_id=line_id,
                 amount=_money(part), economic_class="302", purpose="公务接待")  # fmt: skip
    yield ev(f"{line_id}-adj", "BudgetAdjusted", moment(12, 15, year=year), GRID, line_id=line_id,
             amount=_money(spent - budget), reason="年末收回未使用的“三公”经费")  # fmt: skip


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _monthly(total: Decimal, months: range) -> list[Decimal]:
    """Equal monthly parts in cents, the remainder in the last month."""
    part = (total / len(months)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    return [part] * (len(months) - 1) + [total - part * (len(months) - 1)]


def budget_events() -> Iterator[dict[str, Any]]:
    """budget.events, in the order the finance system would publish them."""
    ev = _finance(YEAR)
    yield from _registrations(ev)
    yield from _grid_lines(ev)
    yield from _zhgd_line(ev)
    yield from _targets_and_outputs(ev)


def _registrations(ev: Callable[..., dict[str, Any]]) -> Iterator[dict[str, Any]]:
    registered = moment(1, 3, 9)
    departments: list[tuple[str, str, str, dict[str, Any]]] = [
        # "核定事业编制8名(现实有人员10人,超编2人)"
        ("grid", GRID, "昆明市网格化监督指挥中心官渡分中心",
         {"headcount_authorised": 8, "headcount_actual": 10}),
        # "人员编制数13人 ... 实有在职人数为13人"
        ("cgj", BUREAU, "官渡区城市管理综合行政执法局",
         {"headcount_authorised": 13, "headcount_actual": 13}),
        ("sgb", DIGITAL_OFFICE, "官渡区数字化城市管理办公室", {"parent": BUREAU}),
        ("zfdd", ENFORCEMENT_TEAM, "官渡区综合行政执法大队", {"parent": BUREAU}),
    ]  # fmt: skip
    departments += [(code.lower(), code, name, {}) for code, name, _ in STREETS + FUNCTIONAL[1:]]
    for suffix, code, name, facts in departments:
        yield ev(f"dep-{suffix}", "DepartmentRegistered", registered, code, name=name, **facts)


def _grid_lines(ev: Callable[..., dict[str, Any]]) -> Iterator[dict[str, Any]]:
    # The centre: "基本支出数为128.93万元, 占总支出的30.51%", "项目支出数为293.67万元,
    # 占总支出的69.49%", "基本支出预算执行率100%, 项目支出预算执行率100%".
    # Budget = arrived = spent. The monthly arrival and spending rhythm is invented.
    # The split of basic spending by economic class is invented except that the report says
    # it went "主要...用于工资及社会保障缴费" and fixed assets of 6.47万 were bought.
    # "三公"经费预算0.5万元, 决算数0.37万元": a line of its own (reception is our guess), within
    # the basic spending; the unspent 0.13万 is taken back in December, so the year's
    # execution stays at 100 %.
    yield from _sangong_line(YEAR, Decimal("3700.00"))
    basic_classes = {
        "301": Decimal("1005654.00"),  # wages and social security (the bulk)
        "302": Decimal("193246.00"),  # goods and services (公用支出), besides "三公"
        "303": Decimal("22000.00"),  # transfers to households
        "310": Decimal("64700.00"),  # "固定资产 ... 6.47万元 ... 政府采购货物支出"
    }
    project_classes = {"302": Decimal("2936700.00")}  # the report gives only the total
    for line_id, title, category, classes in (
        (BASIC_LINE, "网格化监督指挥中心基本支出", "basic", basic_classes),
        (PROJECT_LINE_GRID, "网格化监督指挥中心项目支出", "project", project_classes),
    ):
        total = sum(classes.values(), Decimal(0))
        yield ev(
            f"{line_id}-auth",
            "BudgetAuthorised",
            moment(1, 10),
            GRID,
            line_id=line_id,
            title=title,
            category=category,
            amount=_money(total),
        )
        months = range(1, 13)
        per_class = {c: _monthly(a, months) for c, a in classes.items()}
        for i, (month, arrived) in enumerate(zip(months, _monthly(total, months), strict=True)):
            yield ev(
                f"{line_id}-arr-{month:02d}",
                "FundsArrived",
                moment(month, 5),
                GRID,
                line_id=line_id,
                amount=_money(arrived),
            )
            for econ, parts in per_class.items():
                yield ev(
                    f"{line_id}-pay-{month:02d}-{econ}",
                    "Disbursed",
                    moment(month, 20),
                    GRID,
                    line_id=line_id,
                    amount=_money(parts[i]),
                    economic_class=econ,
                )


def _zhgd_line(ev: Callable[..., dict[str, Any]]) -> Iterator[dict[str, Any]]:
    # The project "智慧官渡—网格化运行": "安排预算资金3689.01万元, 其中政府采购994.75万元";
    # "截止2017年8月31日 ... 收到 ... 额度26942600.00元, 资金到位率73.03%";
    # "下拨官渡区数字化城市管理办公室9297200.00元、下拨官渡区综合行政执法大队17645400.00元";
    # "工资3698689.12元、信息费193657.00元、意外伤害保险费15600.00元".
    # The dates and instalments of arrivals, transfers and payments are invented; which unit
    # paid what is not in the report (wages and insurance: the enforcement team, which
    # employs the supervisors; information fees: the digital office).
    yield ev(
        "zhgd-auth",
        "BudgetAuthorised",
        moment(4, 20),
        BUREAU,
        line_id=ZHGD_LINE,
        title="官渡区智慧官渡—网格化运行",
        category="project",
        amount="36890100.00",
        procurement_amount="9947500.00",
        document="官办通[2016]71号; 公文处理笺105号",
    )

    def pay(unit: str, econ: str, amount: str, purpose: str) -> dict[str, str]:
        return {
            "amount": amount,
            "economic_class": econ,
            "spending_department": unit,
            "purpose": purpose,
        }

    def wages(amount: str, month: int) -> dict[str, str]:  # the supervisors' team
        return pay(ENFORCEMENT_TEAM, "301", amount, f"监督员、信息员工资 ({month}月)")

    def transfer(unit: str, amount: str) -> dict[str, str]:
        return {"to_department": unit, "amount": amount}

    schedule = [  # (month, day, event id, event type, data), in date order
        (5, 10, "arr-0", "FundsArrived", {"amount": "8000000.00"}),
        (5, 12, "trf-0", "FundsTransferred", transfer(DIGITAL_OFFICE, "5000000.00")),
        (6, 12, "arr-1", "FundsArrived", {"amount": "9000000.00"}),
        (6, 15, "trf-1", "FundsTransferred", transfer(ENFORCEMENT_TEAM, "8000000.00")),
        (6, 28, "pay-0", "Disbursed", wages("1232896.37", 6)),
        (6, 28, "pay-1", "Disbursed", pay(ENFORCEMENT_TEAM, "302", "15600.00", "意外伤害保险费")),
        (7, 14, "arr-2", "FundsArrived", {"amount": "5000000.00"}),
        (7, 20, "trf-2", "FundsTransferred", transfer(DIGITAL_OFFICE, "4297200.00")),
        (7, 28, "pay-2", "Disbursed", wages("1232896.37", 7)),
        (7, 28, "pay-3", "Disbursed", pay(DIGITAL_OFFICE, "302", "193657.00", "信息费")),
        (8, 16, "arr-3", "FundsArrived", {"amount": "4942600.00"}),
        (8, 25, "trf-3", "FundsTransferred", transfer(ENFORCEMENT_TEAM, "9645400.00")),
        (8, 28, "pay-4", "Disbursed", wages("1232896.38", 8)),
    ]
    for month, day, event_id, event_type, data in schedule:
        yield ev(
            f"zhgd-{event_id}", event_type, moment(month, day), BUREAU, line_id=ZHGD_LINE, **data
        )


def _targets_and_outputs(ev: Callable[..., dict[str, Any]]) -> Iterator[dict[str, Any]]:
    # Targets. The report states what was achieved, not the targets set or their weights:
    # the indicators follow its figures, but every target value and weight is invented.
    targets = [  # (unit, target_id, 产出指标's level 2, name, metric, at least, unit, weight)
        (GRID, "closure", "质量指标", "案件结案率", "closure_rate", "0.95", "%", 20),
        (GRID, "execution", "时效指标", "预算执行率", "execution_rate", "1", "%", 20),
        (GRID, "advance", "数量指标", "先行处置案件", "advance_disposals", "15000", "件", 10),
        (GRID, "mqsb", "数量指标", "采集门前三包信息", "output:门前三包信息", "10000", "条", 10),
        (GRID, "mtgg", "数量指标", "采集门头广告信息", "output:门头广告信息", "7000", "条", 10),
        (GRID, "gc", "数量指标", "采集公厕信息", "output:公厕信息", "120", "座", 10),
        (BUREAU, "zhgd-arrival", "时效指标", "资金到位率", "arrival_rate", "1", "%", 10),
        (BUREAU, "zhgd-execution", "时效指标", "预算执行率", "execution_rate", "0.9", "%", 10),
    ]
    for unit, tid, level2, name, metric, value, measure, weight in targets:
        fields: dict[str, Any] = {
            "target_id": tid, "level1": "产出指标", "level2": level2, "name": name,
            "metric": metric, "comparator": ">=", "value": value, "unit": measure,
            "weight": weight,
        }  # fmt: skip
        if unit == BUREAU:  # the bureau's targets are those of its project line
            fields["line_id"] = ZHGD_LINE
        yield ev(f"target-{tid}", "PerformanceTargetSet", moment(1, 10), unit, **fields)
    # "2017年共采集门前三包信息10162条、门头广告信息7355条、公厕信息99条" (recorded at year end)
    for oid, indicator, quantity, unit in (
        ("mqsb", "门前三包信息", "10162", "条"),
        ("mtgg", "门头广告信息", "7355", "条"),
        ("gc", "公厕信息", "99", "座"),
    ):
        yield ev(f"output-{oid}", "OutputRecorded", moment(12, 29), GRID,
                 indicator=indicator, quantity=quantity, unit=unit)  # fmt: skip


def assessment_schemes() -> Iterator[dict[str, Any]]:
    """How the centre scores the streets and bureaus. The report says they are assessed
    "主要依据按期结案率和结案率这两项指标" (equal weights, as our default); the second scheme,
    weighting on-time closure more once the supervisors started, is invented."""
    source = "city-management-platform"
    for eid, at, month, weights in (
        ("scheme-2017-01", moment(1, 3), 1, (50, 50)),
        ("scheme-2017-07", moment(6, 26), 7, (60, 40)),
    ):
        indicators = [
            {"metric": "on_time_rate", "name": "按期结案率", "weight": weights[0]},
            {"metric": "closure_rate_due", "name": "结案率", "weight": weights[1]},
        ]
        data = {"effective_month": month, "indicators": indicators,
                "document": "官渡区城市综合管理考核办法"}  # fmt: skip
        yield envelope(f"gd2017-{eid}", "AssessmentSchemeSet", at, GRID, source, data)


# 2016, for the year-over-year comparison: the report says only that 2017's "三公" spending
# of 0.37万 was less than 2016's ("比2016年有所减少") and that cases rose sharply in 2017.
# Every 2016 figure is invented.
PREVIOUS_YEAR = YEAR - 1
PREVIOUS_BASIC = Decimal("1150000.00")
PREVIOUS_SANGONG_SPENT = Decimal("4400.00")
PREVIOUS_CASES, PREVIOUS_CLOSED = 96_000, 90_432  # 94.20 % closed
PREVIOUS_CHANNELS = {"supervisor_patrol": 0.7, "hotline_12345": 0.15, "public_hotline": 0.1,
                     "video": 0.05}  # fmt: skip


def previous_year_events() -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic group, event) of the centre's 2016: its basic line, "三公" line and cases
    (reported, accepted and, for most, closed)."""
    year, ev = PREVIOUS_YEAR, _finance(PREVIOUS_YEAR)
    line_id = f"{GRID}-{year}-BASIC"
    yield "budget", ev(f"{line_id}-auth", "BudgetAuthorised", moment(1, 10, year=year), GRID,
                       line_id=line_id, title="网格化监督指挥中心基本支出", category="basic",
                       amount=_money(PREVIOUS_BASIC))  # fmt: skip
    for month, part in zip(range(1, 13), _monthly(PREVIOUS_BASIC, range(12)), strict=True):
        for etype, day, extra in (
            ("FundsArrived", 5, {}),
            ("Disbursed", 20, {"economic_class": "301"}),
        ):
            at = moment(month, day, year=year)
            yield "budget", ev(f"{line_id}-{etype}-{month:02d}", etype, at, GRID,
                               line_id=line_id, amount=_money(part), **extra)  # fmt: skip
    for event in _sangong_line(year, PREVIOUS_SANGONG_SPENT):
        yield "budget", event
    rng = random.Random(year)
    start, source = moment(1, 1, 0, year=year), "city-management-platform"
    closed = set(rng.sample(range(PREVIOUS_CASES), PREVIOUS_CLOSED))
    channels, weights = zip(*PREVIOUS_CHANNELS.items(), strict=True)
    seconds = sorted(rng.randrange(365 * 86400 - 7200) for _ in range(PREVIOUS_CASES))
    for i, second in enumerate(seconds):
        case_id, eid = f"GD{year}{i + 1:06d}", f"gd{year}-case-{i + 1:06d}"
        at = start + timedelta(seconds=second)
        kind, category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        report = {"case_id": case_id, "channel": rng.choices(channels, weights)[0],
                  "category": category, "kind": kind}  # fmt: skip
        yield "case", envelope(f"{eid}-reported", "CaseReported", at, GRID, source, report)
        at += timedelta(minutes=rng.randint(2, 45))
        yield "case", envelope(f"{eid}-accepted", "CaseAccepted", at, GRID, source,
                                {"case_id": case_id})  # fmt: skip
        if i in closed:
            at = min(at + timedelta(hours=rng.expovariate(1 / 50)), moment(12, 31, 23, year=year))
            yield "case", envelope(f"{eid}-closed", "CaseClosed", at, GRID, source,
                                    {"case_id": case_id})  # fmt: skip


def events() -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic group, event) for the whole demo: 2017, then 2016 for the comparison."""
    for event in budget_events():
        yield "budget", event
    for event in assessment_schemes():
        yield "case", event
    for event in case_events():
        yield "case", event
    yield from previous_year_events()
