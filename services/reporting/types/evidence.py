"""The events behind a figure (docs/contract.md section 7): a cursor connection in ledger order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Self

import strawberry
from strawberry.scalars import JSON

from schemas.money import format_money
from services.reporting import evidence as ev
from services.reporting.errors import UserInputError
from services.reporting.evaluation import DepartmentKey
from services.reporting.loaders import Context
from services.reporting.names import camel
from services.reporting.queries import evidence as queries


@strawberry.type(description="An accepted event, as the event store holds it")
class EvidenceEvent:
    event_id: str = strawberry.field(description="The envelope's event_id")
    event_type: str = strawberry.field(description="e.g. Disbursed, CaseClosed")
    department: str = strawberry.field(description="The envelope's department")
    occurred_at: datetime = strawberry.field(description="Business time: what as-of counts by")
    recorded_at: datetime = strawberry.field(description="When the ledger accepted it")
    position: int = strawberry.field(description="Its position in the ledger")
    amount: str | None = strawberry.field(
        description="Money metrics: yuan as the event counts in the figure (a reversal, a cut "
        "and, in the balance, a payment negative); null for counts"
    )
    source: str = strawberry.field(description="The publishing system (the envelope's source)")
    data: JSON = strawberry.field(description="The event's data, as accepted")

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Self:
        amount = row["amount"]
        return cls(
            **{k: row[k] for k in ("event_id", "event_type", "department", "occurred_at",
                                   "recorded_at", "position", "source")},
            amount=None if amount is None else format_money(amount),
            data=json.loads(row["data"]),
        )  # fmt: skip


@strawberry.type(description="An event of the connection, with its cursor")
class EvidenceEdge:
    cursor: str = strawberry.field(description="Give it as `after` for the events after this one")
    node: EvidenceEvent = strawberry.field(description="The event")


@strawberry.type(description="Where the page ends")
class EvidencePageInfo:
    has_next_page: bool = strawberry.field(description="More events follow this page")
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor: `after` for the next page"
    )


@strawberry.type(description="The accepted events that make up a figure as of a day")
class EvidenceConnection:
    metric: str = strawberry.field(description="The figure's field name, e.g. closedOnTime")
    as_of: date = strawberry.field(description="The last day counted")
    total_count: int = strawberry.field(
        description="The events in all pages; for a count, the figure itself"
    )
    sum: str | None = strawberry.field(
        description="Money metrics: Σ of the events' signed amounts, the figure to the cent"
    )
    edges: list[EvidenceEdge] = strawberry.field(description="This page's events, in ledger order")
    page_info: EvidencePageInfo = strawberry.field(description="Whether more follow")


@dataclass(frozen=True)
class Asked:
    """An evidence question as given."""

    key: DepartmentKey
    metric: str
    line_id: str | None
    first: int
    after: str | None


async def evidence(context: Context, asked: Asked) -> EvidenceConnection:
    """The events behind a figure of the department's evaluation (or its line's), as of the
    key's date; a page of ``first`` after the cursor ``after``."""
    key = asked.key
    await context.readable(key.department)
    name, parts = ev.parts_of(asked.metric, asked.line_id)
    after, first = ev.position_after(asked.after), ev.page_size(asked.first)
    figures = await context.departments.load(key)
    codes: tuple[str, ...] = figures.codes
    if asked.line_id is not None:
        line = (await context.lines.load((asked.line_id, key.as_of))).line
        if line["department"] not in codes or line["fiscal_year"] != key.fiscal_year:
            raise UserInputError(
                f"lineId {asked.line_id!r} is a line of {line['department']} in "
                f"{line['fiscal_year']}, not of {key.department} in {key.fiscal_year}"
            )
        codes = (line["department"],)
    end = ev.end_of(figures.day, context.timezone)
    question = queries.Events(parts, codes, key.fiscal_year, end, asked.line_id)
    async with context.pool.acquire() as conn:
        rows = await queries.page(conn, question, after, first + 1)  # one more: a next page?
        total: str | None = None
        if name in ev.MONEY:
            count, amount = await queries.totals(conn, question)
            total = format_money(amount)
        else:  # a count: the figure, from the projections
            count = int(figures.metrics[name] or 0)
    edges = [EvidenceEdge(cursor=ev.cursor(r["position"]), node=EvidenceEvent.of(r))
             for r in rows[:first]]  # fmt: skip
    return EvidenceConnection(
        metric=camel(name),
        as_of=figures.day,
        total_count=count,
        sum=total,
        edges=edges,
        page_info=EvidencePageInfo(
            has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )
