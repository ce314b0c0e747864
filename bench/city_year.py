"""A city-year of contract events for load: 8 districts, each like the seed's district (a
grid centre with its case platform, a city-management bureau, 10 more budget units: 360
budget lines in all, and about 430,000 accepted cases), about 10.6 million events.

Deterministic (the same bytes on every run) and streaming: events are made one at a time,
district after district, and nothing of the year is held in memory, so any number of
districts costs the same memory.

    .venv/bin/python -m bench.city_year --districts 8 --count          # how many events
    .venv/bin/python -m bench.city_year --districts 8 --publish        # to KAFKA_BOOTSTRAP_SERVERS

Every name and figure is invented; only the shape follows the seed report (a platform that
accepts ~450,000 cases a year and closes ~97 % of them, lines funded in instalments and
spent monthly).
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

import typer

from demo.publish import publish
from services.common.settings import KafkaSettings

YEAR = 2017
TZ = timezone(timedelta(hours=8))
CASES = 430_000  # accepted cases per district and year
CLOSED_SHARE = 0.967  # the seed's 96.73 %
FILED_SHARE = 0.03  # filed with a deadline and dispatched to a street (the rest: closed by
# the centre's own supervisors, as most of the seed's cases)
UNITS, LINES_PER_UNIT = 10, 30
CHANNELS = ["supervisor_patrol"] * 8 + ["hotline_12345", "public_hotline", "video", "wechat"]
CATEGORIES = [("event", "占道经营"), ("event", "环境卫生"), ("event", "宣传广告"),
              ("component", "市政设施"), ("component", "路灯设施")]  # fmt: skip
START, END = datetime(YEAR, 1, 1, tzinfo=TZ), datetime(YEAR + 1, 1, 1, tzinfo=TZ)
SPAN = END - START - timedelta(days=2)  # cases come until 29 December


def _event(
    event_id: str, event_type: str, at: datetime, department: str, source: str, **data: Any
) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": event_type, "schema_version": 1,
            "occurred_at": at.isoformat(), "department": department, "fiscal_year": YEAR,
            "source": source, "data": data}  # fmt: skip


def _line_event(
    code: str, line: str, day: int, suffix: str, event_type: str, month: int, **data: Any
) -> dict[str, Any]:
    at = datetime(YEAR, month, day, 10, tzinfo=TZ)
    return _event(f"city-{line}-{suffix}", event_type, at, code, "finance", line_id=line, **data)


def _case_event(
    platform: str, case_id: str, suffix: str, event_type: str, when: datetime, **data: Any
) -> dict[str, Any]:
    return _event(f"city-{case_id}-{suffix}", event_type, when, platform,
                  "city-management-platform", case_id=case_id, **data)  # fmt: skip


def district_budget(n: int, rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    """Units, and per unit 30 lines: authorised in January, funded quarterly, spent monthly."""
    units = [f"D{n}-GRID", f"D{n}-CGJ", *(f"D{n}-U{k:02d}" for k in range(UNITS))]
    for code in units:
        yield "budget", _event(f"city-{code}-reg", "DepartmentRegistered", START, code,
                               "finance", name=f"第{n}区单位 {code}")  # fmt: skip
    for code in units:
        for k in range(LINES_PER_UNIT):
            line = f"{code}-{YEAR}-L{k:02d}"
            budget = Decimal(rng.randrange(120_000, 4_000_000))
            category = "basic" if k < 10 else "project"

            ev = functools.partial(_line_event, code, line, 10 + k % 15)
            yield "budget", ev("auth", "BudgetAuthorised", 1, title=f"{code} 第{k}项",
                               category=category, amount=f"{budget:.2f}")  # fmt: skip
            for quarter in range(4):
                yield "budget", ev(f"arr{quarter}", "FundsArrived", 1 + 3 * quarter,
                                   amount=f"{budget / 4:.2f}")  # fmt: skip
            share = Decimal(rng.randrange(50, 83)) / 1000  # of the budget, monthly
            for month in range(1, 13):
                yield "budget", ev(f"pay{month:02d}", "Disbursed", month,
                                   amount=f"{budget * share:.2f}",
                                   economic_class=rng.choice(["301", "302", "310"]))  # fmt: skip


def district_cases(n: int, rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    """The grid centre's cases through the year, each with its stages."""
    platform = f"D{n}-GRID"
    streets = [f"D{n}-S{k}" for k in range(8)]
    step = SPAN / CASES
    for i in range(CASES):
        at = START + step * (i + rng.random())
        case_id = f"D{n}-{YEAR}-{i:06d}"
        kind, category = rng.choice(CATEGORIES)

        stage = functools.partial(_case_event, platform, case_id)
        yield "case", stage("rep", "CaseReported", at, channel=rng.choice(CHANNELS),
                            category=category, kind=kind)  # fmt: skip
        at += timedelta(minutes=rng.randint(2, 45))
        yield "case", stage("acc", "CaseAccepted", at)
        closed = rng.random() < CLOSED_SHARE
        if rng.random() < FILED_SHARE:
            at += timedelta(minutes=rng.randint(10, 60))
            deadline = at + timedelta(hours=48)
            yield "case", stage("fil", "CaseFiled", at, deadline_at=deadline.isoformat())
            at += timedelta(minutes=rng.randint(5, 30))
            yield "case", stage("dis", "CaseDispatched", at, assignee=rng.choice(streets))
            if closed:
                at += timedelta(hours=rng.expovariate(1 / 30))
                yield "case", stage("dsp", "CaseDisposed", at)
        if closed:
            at = min(at + timedelta(hours=rng.expovariate(1 / 20)), END - timedelta(minutes=1))
            yield "case", stage("clo", "CaseClosed", at)


def district(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic group, event) of district n's year."""
    rng = random.Random(f"city-{YEAR}-{n}")
    yield from district_budget(n, rng)
    yield from district_cases(n, rng)


def city_year(districts: int = 8) -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic group, event) of the whole city-year, district after district."""
    for n in range(1, districts + 1):
        yield from district(n)


def main(
    districts: Annotated[int, typer.Option(min=1, help="How many districts")] = 8,
    count: Annotated[bool, typer.Option(help="Only count the events")] = False,
    publish_to: Annotated[
        bool, typer.Option("--publish", help="Publish to KAFKA_BOOTSTRAP_SERVERS")
    ] = False,
) -> None:
    """Make a city-year of events: count them, or publish them through Kafka."""
    if publish_to:
        settings = KafkaSettings()
        events = city_year(districts)
        done, _ = asyncio.run(
            publish(settings.kafka_bootstrap_servers, events, settings.topics, show=True)
        )
        print(f"published {done:,} events to {settings.kafka_bootstrap_servers}")
    elif count:
        print(f"{sum(1 for _ in city_year(districts)):,} events")
    else:
        raise typer.BadParameter("say --count or --publish")


if __name__ == "__main__":
    typer.run(main)
