"""The demo year: the seed report's 2017 (shared/seed/guandu-2017-self-evaluation.txt) as
contract events, generated deterministically (same bytes on every run, so publishing it
again is a no-op for the ledger).

Every figure below comes from the report; where the report gives only a total, the total
is spread plausibly and the comment says so. Departments codes are ours (the report has
none). Quotes in comments are the report's words.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

YEAR = 2017
TZ = timezone(timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991

GRID = "GD-GRID"  # 昆明市网格化监督指挥中心官渡分中心 (the evaluated department)
BUREAU = "GD-CGJ"  # 官渡区城市管理综合行政执法局 (owner of the project line)
DIGITAL_OFFICE = "GD-SGB"  # 官渡区数字化城市管理办公室 (receiving unit)
ENFORCEMENT_TEAM = "GD-ZFDD"  # 官渡区综合行政执法大队 (receiving unit)

BASIC_LINE = "GD-GRID-2017-BASIC"
SANGONG_LINE = "GD-GRID-2017-SANGONG"  # the "三公" budget (reception)
PROJECT_LINE_GRID = "GD-GRID-2017-PROJECT"
ZHGD_LINE = "GD-CGJ-2017-ZHGD"  # 官渡区智慧官渡—网格化运行

# "452034 ... 处理结案437273件, 结案率为96.73%"
CASES_ACCEPTED = 452_034
CASES_CLOSED = 437_273
# "通过12319和67169110公众投诉渠道受理 ... 5475件, 结案5475件, 结案率100%"
PUBLIC_HOTLINE_CASES = 5_475
# The report names six sources (public reports, media, leadership, supervisors' patrols,
# 12345 and 110 transfers, video) and the WeChat platform, but gives no split except the
# public-complaint channel: these counts are invented to sum to 452,034.
CHANNEL_CASES = {
    "public_hotline": PUBLIC_HOTLINE_CASES,
    "wechat": 9_860,
    "hotline_12345": 21_300,
    "police_110": 3_120,
    "video": 6_540,
    "media": 410,
    "leadership": 230,
}
CHANNEL_CASES["supervisor_patrol"] = CASES_ACCEPTED - sum(CHANNEL_CASES.values())

# "共先行处置案件19524件, 其中, 部件类案件932件 (更换井盖204个, 处理地脚钉275件,
# 更换垃圾桶内胆413个, 其他部件案件40件); 事件类案件18592件 (清理粘贴小广告16976件,
# 处理店外经营、占道经营1434件, 清理违规标语宣传品182件)"
ADVANCE_DISPOSALS: list[tuple[str, str, int]] = [
    ("component", "市政设施", 204 + 275 + 40),  # manhole covers, ground studs, other
    ("component", "环境卫生", 413),  # bin liners
    ("event", "宣传广告", 16_976 + 182),  # small ads, banners
    ("event", "占道经营", 1_434),
]
# the categories the report lists; components are facilities (部件), the rest events (事件)
CATEGORIES: list[tuple[str, str]] = [
    ("event", "占道经营"),
    ("component", "市政设施"),
    ("event", "违法建设"),
    ("event", "路面泼洒"),
    ("event", "环境卫生"),
    ("component", "路灯设施"),
    ("component", "绿化设施"),
    ("event", "宣传广告"),
    ("event", "噪音扰民"),
]
# how often each occurs (invented: street matters such as stalls, litter and small ads most)
CATEGORY_WEIGHTS = [0.22, 0.1, 0.04, 0.06, 0.2, 0.05, 0.05, 0.2, 0.08]
# Where cases go. "区数字城管平台通过网络数据联动8个街道办事处和14个区级职能部门 ... 辖区8个
# 街道办事处和10家职能部门一并纳入每月区级 ... 考核": the report names neither the streets
# nor most departments, so these codes and names are invented (the departments are generic
# district bureaus), as is every figure below. The share is how slowly each disposes of its
# cases (mean disposal time as a share of the deadline): the source of their differences.
STREETS: list[tuple[str, str, float]] = [
    ("GD-JD01", "东风街道办事处", 0.35),
    ("GD-JD02", "青云街道办事处", 0.45),
    ("GD-JD03", "金穗街道办事处", 0.55),
    ("GD-JD04", "石桥街道办事处", 0.6),
    ("GD-JD05", "月湖街道办事处", 0.7),
    ("GD-JD06", "柳营街道办事处", 0.8),
    ("GD-JD07", "南坝街道办事处", 0.95),
    ("GD-JD08", "北岭街道办事处", 1.1),
]
FUNCTIONAL: list[tuple[str, str, float]] = [
    (BUREAU, "官渡区城市管理综合行政执法局", 0.5),  # registered with the budget
    ("GD-ZJJ", "官渡区住房和城乡建设局", 0.75),
    ("GD-SCJG", "官渡区市场监督管理局", 0.9),
    ("GD-YLLH", "官渡区园林绿化局", 1.2),
]
SLOWNESS = {code: share for code, _, share in STREETS + FUNCTIONAL}
# Per category: the deadline in hours from filing (invented; real platforms set one per
# sub-category) and who handles it: "street" (the street of the case's grid) or a bureau.
CATEGORY_RULES: dict[str, tuple[int, str]] = {
    "占道经营": (24, "street"),
    "市政设施": (72, "GD-ZJJ"),
    "违法建设": (120, BUREAU),
    "路面泼洒": (24, "street"),
    "环境卫生": (24, "street"),
    "路灯设施": (72, "GD-ZJJ"),
    "绿化设施": (72, "GD-YLLH"),
    "宣传广告": (24, "street"),
    "噪音扰民": (48, "street"),
}
GRIDS = 89  # "GD-G001" .. "GD-G089", in street order
UNLICENSED_SHARE = 0.2  # of 占道经营, unlicensed trading for the market regulator (invented)
REDISPATCH_SHARE = 0.03  # dispatched to the wrong unit first, then re-dispatched (改派)
# "加大了对辖区各网格的巡查上报力度 ... 暴露出辖区街道处置力量有限": from June, when the
# 178 supervisors started, the streets dispose more slowly (invented factor).
STREETS_STRAINED_FROM, STRAIN = 6, 1.25

# Cases by month: the report gives only the year's total and says reporting grew once
# the 178 supervisors started in June 2017; this spread (weights sum to 1) is invented.
MONTH_WEIGHTS = [0.05, 0.045, 0.06, 0.065, 0.07, 0.09, 0.10, 0.105, 0.105, 0.10, 0.105, 0.105]


def _at(month: int, day: int, hour: int = 10, year: int = YEAR) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=TZ)


def _envelope(
    event_id: str, event_type: str, at: datetime, department: str, source: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at.isoformat(),
        "department": department,
        "fiscal_year": at.year,
        "source": source,
        "data": data,
    }


def _finance(year: int) -> Callable[..., dict[str, Any]]:
    """The finance system's events of a year: ev(id, type, at, department, **data)."""

    def ev(eid: str, etype: str, at: datetime, dep: str, **data: Any) -> dict[str, Any]:
        return _envelope(f"gd{year}-{eid}", etype, at, dep, "finance", data)

    return ev


def _sangong_line(year: int, spent: Decimal) -> Iterator[dict[str, Any]]:
    """The centre's "三公" line of a year: 0.5万 budgeted, ``spent`` paid in two instalments,
    the rest taken back in December."""
    ev, line_id, budget = _finance(year), f"{GRID}-{year}-SANGONG", Decimal("5000.00")
    yield ev(f"{line_id}-auth", "BudgetAuthorised", _at(1, 10, year=year), GRID,
             line_id=line_id, title="公务接待费", category="basic", amount=_money(budget),
             sangong="reception")  # fmt: skip
    for n, (month, part) in enumerate(zip((4, 10), _monthly(spent, range(2)), strict=True)):
        at = _at(month, 20, year=year)
        yield ev(f"{line_id}-arr-{n}", "FundsArrived", at, GRID, line_id=line_id,
                 amount=_money(part))  # fmt: skip
        yield ev(f"{line_id}-pay-{n}", "Disbursed", at, GRID, line_id=line_id,
                 amount=_money(part), economic_class="302", purpose="公务接待")  # fmt: skip
    yield ev(f"{line_id}-adj", "BudgetAdjusted", _at(12, 15, year=year), GRID, line_id=line_id,
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

    registered = _at(1, 3, 9)
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
            _at(1, 10),
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
                _at(month, 5),
                GRID,
                line_id=line_id,
                amount=_money(arrived),
            )
            for econ, parts in per_class.items():
                yield ev(
                    f"{line_id}-pay-{month:02d}-{econ}",
                    "Disbursed",
                    _at(month, 20),
                    GRID,
                    line_id=line_id,
                    amount=_money(parts[i]),
                    economic_class=econ,
                )

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
        _at(4, 20),
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
        yield ev(f"zhgd-{event_id}", event_type, _at(month, day), BUREAU, line_id=ZHGD_LINE, **data)

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
        yield ev(f"target-{tid}", "PerformanceTargetSet", _at(1, 10), unit, **fields)
    # "2017年共采集门前三包信息10162条、门头广告信息7355条、公厕信息99条" (recorded at year end)
    for oid, indicator, quantity, unit in (
        ("mqsb", "门前三包信息", "10162", "条"),
        ("mtgg", "门头广告信息", "7355", "条"),
        ("gc", "公厕信息", "99", "座"),
    ):
        yield ev(f"output-{oid}", "OutputRecorded", _at(12, 29), GRID,
                 indicator=indicator, quantity=quantity, unit=unit)  # fmt: skip


def case_events(seed: int = YEAR, copy: str = "") -> Iterator[dict[str, Any]]:
    """case.events of the grid centre's platform for each of the 452,034 accepted cases: an
    advance disposal is reported, accepted and closed by the centre; every other case is also
    filed with a deadline and dispatched to a street or a bureau (sometimes re-dispatched),
    which disposes of it before the centre closes it, unless it is still open at year end.
    Only the totals are the report's; the stages and their times are invented. ``copy``
    marks the ids of another year's worth of cases, for load tests (bench/)."""
    rng = random.Random(seed)
    source = "city-management-platform"
    channels = [c for c, n in CHANNEL_CASES.items() for _ in range(n)]
    rng.shuffle(channels)
    year_end = datetime(YEAR + 1, 1, 1, tzinfo=TZ)
    month_starts = [datetime(YEAR, m, 1, tzinfo=TZ) for m in range(1, 13)] + [year_end]
    times = []
    for _ in range(CASES_ACCEPTED):
        month = rng.choices(range(12), MONTH_WEIGHTS)[0]
        span = (month_starts[month + 1] - month_starts[month]).total_seconds()
        times.append(month_starts[month] + timedelta(seconds=int(rng.random() * (span - 7200))))
    times.sort()

    # advance disposals come from the supervisors' patrols
    patrol = [i for i, c in enumerate(channels) if c == "supervisor_patrol"]
    advance: dict[int, tuple[str, str]] = {}
    for (kind, category, _), chosen in zip(
        ADVANCE_DISPOSALS,
        _split(
            rng.sample(patrol, sum(n for *_, n in ADVANCE_DISPOSALS)),
            [n for *_, n in ADVANCE_DISPOSALS],
        ),
        strict=True,
    ):
        advance.update({i: (kind, category) for i in chosen})
    kinds = [
        advance.get(i) or rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        for i in range(CASES_ACCEPTED)
    ]
    grids = [rng.randrange(GRIDS) for _ in range(CASES_ACCEPTED)]
    assignees = [
        None if i in advance else _assignee(kinds[i][1], grids[i], rng)
        for i in range(CASES_ACCEPTED)
    ]
    # Open cases: not from the public-complaint channel (all closed), not advance disposals,
    # mostly reported late in the year ("案件数量急剧增加 ... 部分案件积压"), more often with
    # the slower units.
    eligible = [i for i, c in enumerate(channels) if c != "public_hotline" and i not in advance]
    slowness = {i: SLOWNESS[a] for i, a in enumerate(assignees) if a is not None}
    keyed = sorted(
        eligible,
        key=lambda i: (
            rng.random() ** (1 / ((1 + 30 * (i / CASES_ACCEPTED) ** 4) * slowness[i] ** 2))
        ),
    )
    still_open = set(keyed[-(CASES_ACCEPTED - CASES_CLOSED) :])

    def clip(at: datetime) -> datetime:  # every stage inside the fiscal year
        return min(at, year_end - timedelta(minutes=1))

    def stage(n: int, suffix: str, event_type: str, at: datetime, **data: Any) -> dict[str, Any]:
        return _envelope(f"gd{YEAR}{copy}-case-{n:06d}-{suffix}", event_type, at, GRID, source,
                         {"case_id": f"GD{YEAR}{copy}{n:06d}", **data})  # fmt: skip

    for i, reported_at in enumerate(times):
        n = i + 1
        kind, category = kinds[i]
        report: dict[str, Any] = {
            "channel": channels[i],
            "category": category,
            "kind": kind,
            "grid": f"GD-G{grids[i] + 1:03d}",
        }
        if i in advance:
            report["advance_disposal"] = True
        yield stage(n, "reported", "CaseReported", reported_at, **report)
        at = clip(reported_at + timedelta(minutes=rng.randint(2, 45)))
        yield stage(n, "accepted", "CaseAccepted", at)
        assignee = assignees[i]
        if assignee is None:  # 先行处置: closed by the centre's own supervisors
            yield stage(n, "closed", "CaseClosed", clip(at + timedelta(minutes=30)))
            continue
        hours = CATEGORY_RULES[category][0]
        at = clip(at + timedelta(minutes=rng.randint(10, 60)))
        yield stage(
            n, "filed", "CaseFiled", at, deadline_at=(at + timedelta(hours=hours)).isoformat()
        )
        at = clip(at + timedelta(minutes=rng.randint(5, 30)))
        if rng.random() < REDISPATCH_SHARE:  # first to a unit that sends it back
            wrong = rng.choice([code for code in SLOWNESS if code != assignee])
            yield stage(n, "dispatched", "CaseDispatched", at, assignee=wrong)
            at = clip(at + timedelta(hours=rng.uniform(1, 6)))
            yield stage(n, "redispatched", "CaseDispatched", at, assignee=assignee)
        else:
            yield stage(n, "dispatched", "CaseDispatched", at, assignee=assignee)
        if i in still_open:
            continue
        mean = hours * slowness[i]
        if assignee.startswith("GD-JD") and at.month >= STREETS_STRAINED_FROM:
            mean *= STRAIN
        at = clip(at + timedelta(hours=rng.expovariate(1 / mean)))
        yield stage(n, "disposed", "CaseDisposed", at)
        yield stage(n, "closed", "CaseClosed", clip(at + timedelta(hours=rng.uniform(0.5, 3))))


def _assignee(category: str, grid: int, rng: random.Random) -> str:
    """Who a case of this category in this grid is dispatched to."""
    handler = CATEGORY_RULES[category][1]
    if category == "占道经营" and rng.random() < UNLICENSED_SHARE:
        return "GD-SCJG"
    if handler == "street":
        return STREETS[grid * len(STREETS) // GRIDS][0]
    return handler


def assessment_schemes() -> Iterator[dict[str, Any]]:
    """How the centre scores the streets and bureaus. The report says they are assessed
    "主要依据按期结案率和结案率这两项指标" (equal weights, as our default); the second scheme,
    weighting on-time closure more once the supervisors started, is invented."""
    source = "city-management-platform"
    for eid, at, month, weights in (
        ("scheme-2017-01", _at(1, 3), 1, (50, 50)),
        ("scheme-2017-07", _at(6, 26), 7, (60, 40)),
    ):
        indicators = [
            {"metric": "on_time_rate", "name": "按期结案率", "weight": weights[0]},
            {"metric": "closure_rate_due", "name": "结案率", "weight": weights[1]},
        ]
        data = {"effective_month": month, "indicators": indicators,
                "document": "官渡区城市综合管理考核办法"}  # fmt: skip
        yield _envelope(f"gd2017-{eid}", "AssessmentSchemeSet", at, GRID, source, data)


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
    yield "budget", ev(f"{line_id}-auth", "BudgetAuthorised", _at(1, 10, year=year), GRID,
                       line_id=line_id, title="网格化监督指挥中心基本支出", category="basic",
                       amount=_money(PREVIOUS_BASIC))  # fmt: skip
    for month, part in zip(range(1, 13), _monthly(PREVIOUS_BASIC, range(12)), strict=True):
        for etype, day, extra in (
            ("FundsArrived", 5, {}),
            ("Disbursed", 20, {"economic_class": "301"}),
        ):
            yield "budget", ev(f"{line_id}-{etype}-{month:02d}", etype, _at(month, day, year=year),
                               GRID, line_id=line_id, amount=_money(part), **extra)  # fmt: skip
    for event in _sangong_line(year, PREVIOUS_SANGONG_SPENT):
        yield "budget", event
    rng = random.Random(year)
    start, source = _at(1, 1, 0, year=year), "city-management-platform"
    closed = set(rng.sample(range(PREVIOUS_CASES), PREVIOUS_CLOSED))
    channels, weights = zip(*PREVIOUS_CHANNELS.items(), strict=True)
    seconds = sorted(rng.randrange(365 * 86400 - 7200) for _ in range(PREVIOUS_CASES))
    for i, second in enumerate(seconds):
        case_id, eid = f"GD{year}{i + 1:06d}", f"gd{year}-case-{i + 1:06d}"
        at = start + timedelta(seconds=second)
        kind, category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        report = {"case_id": case_id, "channel": rng.choices(channels, weights)[0],
                  "category": category, "kind": kind}  # fmt: skip
        yield "case", _envelope(f"{eid}-reported", "CaseReported", at, GRID, source, report)
        at += timedelta(minutes=rng.randint(2, 45))
        yield "case", _envelope(f"{eid}-accepted", "CaseAccepted", at, GRID, source,
                                {"case_id": case_id})  # fmt: skip
        if i in closed:
            at = min(at + timedelta(hours=rng.expovariate(1 / 50)), _at(12, 31, 23, year=year))
            yield "case", _envelope(f"{eid}-closed", "CaseClosed", at, GRID, source,
                                    {"case_id": case_id})  # fmt: skip


def _split(items: list[int], sizes: list[int]) -> list[list[int]]:
    out, start = [], 0
    for size in sizes:
        out.append(items[start : start + size])
        start += size
    return out


def events() -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic group, event) for the whole demo: 2017, then 2016 for the comparison."""
    for event in budget_events():
        yield "budget", event
    for event in assessment_schemes():
        yield "case", event
    for event in case_events():
        yield "case", event
    yield from previous_year_events()
