"""The events behind a figure, read from the event store (``ledger.events``) in ledger order.

Only what the projections have applied is listed (each department's applied position), so
the events and the figures agree even while the performance service catches up. Each part
(event type) of each department is read from the index on (department, fiscal_year,
event_type, position) in position order, so a page costs its rows, not the year's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import asyncpg

from services.reporting.evidence import Part

# $1 the departments, $2 the fiscal year, $3 the end of the day counted, $4 the budget line
# (or null); a page's: $5 the position after which it starts, $6 the events it holds
_APPLIED = """coalesce((SELECT a.position FROM applied_positions a
                        WHERE a.department = u.code), 0)"""
_CASE = "JOIN cases c ON c.department = e.department AND c.case_id = e.payload->'data'->>'case_id'"


def _part(part: Part, columns: str, page: bool) -> str:
    case_join = _CASE if part.case else ""
    conditions = [
        "e.department = u.code", "e.fiscal_year = $2", f"e.event_type = '{part.event_type}'",
        "e.occurred_at < $3", f"e.position <= {_APPLIED}",
        f"($4::text IS NULL OR {part.line} = $4)",
    ]  # fmt: skip
    if part.where:
        conditions.append(part.where)
    if page:
        conditions.append("e.position > $5")
    amount = part.amount or "NULL::numeric"
    sql = f"""SELECT {columns.format(amount=amount)} FROM ledger.events e {case_join}
              WHERE {" AND ".join(conditions)}"""
    return f"({sql} ORDER BY e.position LIMIT $6)" if page else sql


_ROW = """e.position, e.event_id, e.event_type, e.department, e.occurred_at, e.recorded_at,
          e.payload->>'source' AS source, e.payload->'data' AS data, {amount} AS amount"""


class Events(NamedTuple):
    parts: Sequence[Part]
    departments: Sequence[str]
    fiscal_year: int
    end: datetime  # of the day counted
    line_id: str | None

    def args(self) -> list[Any]:  # $1 to $4
        return [list(self.departments), self.fiscal_year, self.end, self.line_id]


async def page(conn: asyncpg.Connection, events: Events, after: int, first: int) -> list[Any]:
    """Up to ``first`` events after position ``after``, in ledger order."""
    union = " UNION ALL ".join(_part(p, _ROW, page=True) for p in events.parts)
    sql = f"""SELECT x.* FROM unnest($1::text[]) u(code), LATERAL ({union}) x
              ORDER BY x.position LIMIT $6"""
    return await conn.fetch(sql, *events.args(), after, first)  # type: ignore[no-any-return]


async def totals(conn: asyncpg.Connection, events: Events) -> tuple[int, Decimal]:
    """How many events make up a money figure, and the sum of their signed amounts."""
    union = " UNION ALL ".join(_part(p, "{amount} AS amount", page=False) for p in events.parts)
    row: Any = await conn.fetchrow(
        f"""SELECT count(*) AS n, coalesce(sum(x.amount), 0) AS total
            FROM unnest($1::text[]) u(code), LATERAL ({union}) x""",
        *events.args(),
    )
    return row["n"], row["total"]
