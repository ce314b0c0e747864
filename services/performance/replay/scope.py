"""What a replay rebuilds, where, and how its progress is told."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.common.event_store import YearEvents
from services.common.projections import LIVE

Progress = Callable[[int, int], None]  # (events done, events in all)


@dataclass(frozen=True)
class Scope:
    """What a replay rebuilds, and where."""

    fiscal_year: int
    department: str | None
    until: datetime | None
    timezone: str
    chunk: int
    flush_every: int = 500_000  # events after which a part adds its daily buckets to the
    # shadow and starts them afresh (memory stays flat whatever the number of departments)

    @property
    def schema(self) -> str:
        """The shadow schema of a swap, or the snapshot of a replay until a moment."""
        tag = "all"
        if self.department is not None:
            tag = re.sub(r"[^a-z0-9]+", "_", self.department.lower())[:24]
        if self.until is None:
            return f"{LIVE}_replay_{self.fiscal_year}_{tag}"
        moment = self.until.astimezone(ZoneInfo(self.timezone))
        return f"{LIVE}_{self.fiscal_year}_{tag}_at_{moment:%Y%m%dt%H%M%S}"

    def events(
        self,
        since: Mapping[str, int] | None,
        upto: Mapping[str, int] | None,
        cases: bool | None = None,
    ) -> YearEvents:
        """The events in scope: per department, those with a position in (since, upto];
        with no bounds, all (those recorded by ``until``); only the cases', none of them, or
        all (``cases``: True, False, None)."""
        return YearEvents(self.fiscal_year, self.department, self.until, since, upto, cases)
