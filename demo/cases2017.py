"""The demo's 452,034 cases of 2017 on the grid centre's platform (see guandu2017.py): only the
totals are the report's; who handles which case and when each stage happens are invented."""

from __future__ import annotations

import random
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from demo.base import BUREAU, GRID, TZ, YEAR, envelope

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


def case_events(seed: int = YEAR, copy: str = "") -> Iterator[dict[str, Any]]:
    """case.events of the grid centre's platform for each of the 452,034 accepted cases: an
    advance disposal is reported, accepted and closed by the centre; every other case is also
    filed with a deadline and dispatched to a street or a bureau (sometimes re-dispatched),
    which disposes of it before the centre closes it, unless it is still open at year end.
    Only the totals are the report's; the stages and their times are invented. ``copy``
    marks the ids of another year's worth of cases, for load tests (bench/)."""
    rng = random.Random(seed)
    plan = _CasePlan.draw(rng)
    for i, reported_at in enumerate(plan.times):
        yield from _case_stages(plan, i, reported_at, rng, copy)


_YEAR_END = datetime(YEAR + 1, 1, 1, tzinfo=TZ)


@dataclass
class _CasePlan:
    """What every case is: its channel, time of report, kind and category, grid and assignee
    (None: an advance disposal), and whether it is still open at year end."""

    channels: list[str]
    times: list[datetime]
    kinds: list[tuple[str, str]]
    grids: list[int]
    assignees: list[str | None]
    advance: set[int]
    still_open: set[int]

    @classmethod
    def draw(cls, rng: random.Random) -> _CasePlan:
        channels = [c for c, n in CHANNEL_CASES.items() for _ in range(n)]
        rng.shuffle(channels)
        month_starts = [datetime(YEAR, m, 1, tzinfo=TZ) for m in range(1, 13)] + [_YEAR_END]
        times = []
        for _ in range(CASES_ACCEPTED):
            month = rng.choices(range(12), MONTH_WEIGHTS)[0]
            span = (month_starts[month + 1] - month_starts[month]).total_seconds()
            times.append(month_starts[month] + timedelta(seconds=int(rng.random() * (span - 7200))))
        times.sort()
        advance = _advance_disposals(channels, rng)
        kinds = [
            advance.get(i) or rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
            for i in range(CASES_ACCEPTED)
        ]
        grids = [rng.randrange(GRIDS) for _ in range(CASES_ACCEPTED)]
        assignees = [
            None if i in advance else _assignee(kinds[i][1], grids[i], rng)
            for i in range(CASES_ACCEPTED)
        ]
        still_open = _still_open(channels, advance.keys(), assignees, rng)
        return cls(channels, times, kinds, grids, assignees, set(advance), still_open)


def _advance_disposals(channels: list[str], rng: random.Random) -> dict[int, tuple[str, str]]:
    """The advance disposals (kind, category) by case: they come from the supervisors' patrols."""
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
    return advance


def _still_open(
    channels: list[str],
    advance: Collection[int],
    assignees: list[str | None],
    rng: random.Random,
) -> set[int]:
    """Open cases: not from the public-complaint channel (all closed), not advance disposals,
    mostly reported late in the year ("案件数量急剧增加 ... 部分案件积压"), more often with
    the slower units."""
    eligible = [i for i, c in enumerate(channels) if c != "public_hotline" and i not in advance]
    slowness = {i: SLOWNESS[a] for i, a in enumerate(assignees) if a is not None}
    keyed = sorted(
        eligible,
        key=lambda i: (
            rng.random() ** (1 / ((1 + 30 * (i / CASES_ACCEPTED) ** 4) * slowness[i] ** 2))
        ),
    )
    return set(keyed[-(CASES_ACCEPTED - CASES_CLOSED) :])


def _clip(at: datetime) -> datetime:
    """Every stage inside the fiscal year."""
    return min(at, _YEAR_END - timedelta(minutes=1))


def _case_stages(
    plan: _CasePlan, i: int, reported_at: datetime, rng: random.Random, copy: str
) -> Iterator[dict[str, Any]]:
    n = i + 1

    def stage(suffix: str, event_type: str, at: datetime, **data: Any) -> dict[str, Any]:
        return envelope(f"gd{YEAR}{copy}-case-{n:06d}-{suffix}", event_type, at, GRID,
                         "city-management-platform",
                         {"case_id": f"GD{YEAR}{copy}{n:06d}", **data})  # fmt: skip

    kind, category = plan.kinds[i]
    report: dict[str, Any] = {
        "channel": plan.channels[i],
        "category": category,
        "kind": kind,
        "grid": f"GD-G{plan.grids[i] + 1:03d}",
    }
    if i in plan.advance:
        report["advance_disposal"] = True
    yield stage("reported", "CaseReported", reported_at, **report)
    at = _clip(reported_at + timedelta(minutes=rng.randint(2, 45)))
    yield stage("accepted", "CaseAccepted", at)
    assignee = plan.assignees[i]
    if assignee is None:  # 先行处置: closed by the centre's own supervisors
        yield stage("closed", "CaseClosed", _clip(at + timedelta(minutes=30)))
        return
    hours = CATEGORY_RULES[category][0]
    at = _clip(at + timedelta(minutes=rng.randint(10, 60)))
    yield stage("filed", "CaseFiled", at, deadline_at=(at + timedelta(hours=hours)).isoformat())
    at = _clip(at + timedelta(minutes=rng.randint(5, 30)))
    if rng.random() < REDISPATCH_SHARE:  # first to a unit that sends it back
        wrong = rng.choice([code for code in SLOWNESS if code != assignee])
        yield stage("dispatched", "CaseDispatched", at, assignee=wrong)
        at = _clip(at + timedelta(hours=rng.uniform(1, 6)))
        yield stage("redispatched", "CaseDispatched", at, assignee=assignee)
    else:
        yield stage("dispatched", "CaseDispatched", at, assignee=assignee)
    if i in plan.still_open:
        return
    mean = hours * SLOWNESS[assignee]
    if assignee.startswith("GD-JD") and at.month >= STREETS_STRAINED_FROM:
        mean *= STRAIN
    at = _clip(at + timedelta(hours=rng.expovariate(1 / mean)))
    yield stage("disposed", "CaseDisposed", at)
    yield stage("closed", "CaseClosed", _clip(at + timedelta(hours=rng.uniform(0.5, 3))))


def _assignee(category: str, grid: int, rng: random.Random) -> str:
    """Who a case of this category in this grid is dispatched to."""
    handler = CATEGORY_RULES[category][1]
    if category == "占道经营" and rng.random() < UNLICENSED_SHARE:
        return "GD-SCJG"
    if handler == "street":
        return STREETS[grid * len(STREETS) // GRIDS][0]
    return handler


def _split(items: list[int], sizes: list[int]) -> list[list[int]]:
    out, start = [], 0
    for size in sizes:
        out.append(items[start : start + size])
        start += size
    return out
