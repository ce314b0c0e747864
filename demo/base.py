"""What the demo's two years share: the year, the time zone, the departments and lines, and
how an event is enveloped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
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


def moment(month: int, day: int, hour: int = 10, year: int = YEAR) -> datetime:
    """A time of the demo's year (10:00 by default) in its time zone."""
    return datetime(year, month, day, hour, 0, tzinfo=TZ)


def envelope(
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
