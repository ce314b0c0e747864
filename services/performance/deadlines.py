"""A filed case's deadline figures as daily deltas, pure.

``due``, ``due_closed``, ``overdue`` and the overdue ages of a group of cases as of a day are
the sums of these deltas over the days up to it (case_daily), so the gateway reads them from
the days of a year instead of scanning every case. Migration 0003 derives the same deltas
from case_deadlines in SQL, for the projections a database held before.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from services.common.projections import OVERDUE_AGES

# a filed case not closed yet: its closing day in case_deadlines, and no delta ends on it
NOT_CLOSED = date(9999, 12, 31)


def deadline_deltas(deadline: date, closed: date, since: date) -> Iterator[tuple[date, str, int]]:
    """(day, count, +1 or -1): the deltas of a case counted from ``since`` on, due on
    ``deadline`` and closed on ``closed`` (NOT_CLOSED while open).

    As of a day T (and from ``since`` on) it is due once it fell due or was closed, whichever
    came first; closed and due once closed; overdue while past its deadline and not closed,
    and of the age T - deadline."""
    yield max(min(deadline, closed), since), "due", 1
    if closed != NOT_CLOSED:
        yield max(closed, since), "due_closed", 1
    spans = [("overdue", deadline, closed)]
    for age, (low, high) in OVERDUE_AGES.items():
        last = closed if high is None else min(closed, deadline + timedelta(high + 1))
        spans.append((f"overdue_{age}", deadline + timedelta(low), last))
    for count, start, end in spans:
        start = max(start, since)
        if start < end:
            yield start, count, 1
            if end != NOT_CLOSED:
                yield end, count, -1
