"""The events behind a figure (docs/contract.md section 7), declared: for each metric, the
accepted events that make it up as of a day and how each counts, and the connection's cursors.

A money figure is the sum of its events' signed amounts (a reversal and a cut count negative,
and for the balance a payment does); a count lists one event per case, the one that puts the
case in the count. The conditions are SQL on ``e`` (a row of ``ledger.events``), ``c`` (the
case's row in the projections, for the case metrics) and ``$3``, the end of the day counted
(exclusive). services/reporting/queries/evidence.py runs them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from services.reporting.errors import UserInputError
from services.reporting.names import camel, snake
from services.reporting.reconcile import RATES

MAX_FIRST = 1000  # a page holds at most this many events


@dataclass(frozen=True)
class Part:
    """The events of one type that make up (part of) a figure."""

    event_type: str
    amount: str | None = None  # money: SQL of the signed amount each event counts with
    where: str = ""  # further SQL conditions
    line: str = "substr(e.stream_id, 6)"  # SQL of its budget line (its stream is line:<id>)
    case: bool = False  # the conditions read the case's row (c)


# money as its version carries it: a string, or (Disbursed v2) an object with its value
AMOUNT = "coalesce(e.payload #>> '{data,amount,value}', e.payload #>> '{data,amount}')::numeric"
REVERSED = "(e.context->'reversed'->>'amount')::numeric"  # the disbursement it takes back
PROCUREMENT_LINE = "coalesce(e.payload->'data'->>'line_id', e.context->>'line_id')"
SANGONG = "{line} IN (SELECT line_id FROM lines WHERE sangong IS NOT NULL)"
CLOSED_BY_THEN = "c.closed_at < $3"
OPEN_THEN = "(c.closed_at IS NULL OR c.closed_at >= $3)"
FIRST_DISPATCH = """NOT EXISTS (SELECT 1 FROM ledger.events p WHERE p.stream_id = e.stream_id
    AND p.stream_version < e.stream_version AND p.event_type = 'CaseDispatched')"""

AUTHORISED = Part("BudgetAuthorised", AMOUNT)
ADJUSTED = Part("BudgetAdjusted", AMOUNT)
PAID = Part("Disbursed", AMOUNT)
TAKEN_BACK = Part("DisbursementReversed", f"-{REVERSED}")


def _sangong(part: Part) -> Part:
    return Part(part.event_type, part.amount, SANGONG.format(line=part.line))


# metric (snake_case, as docs/contract.md section 4 names it) -> the parts making it up
MONEY: dict[str, tuple[Part, ...]] = {
    "initial_budget": (AUTHORISED,),
    "adjusted_budget": (AUTHORISED, ADJUSTED),
    "arrived": (Part("FundsArrived", AMOUNT),),
    "transferred": (Part("FundsTransferred", AMOUNT),),
    "spent": (PAID, TAKEN_BACK),
    "balance": (
        AUTHORISED,
        ADJUSTED,
        Part("Disbursed", f"-{AMOUNT}"),
        Part("DisbursementReversed", REVERSED),
    ),  # fmt: skip
    "sangong_budget": (_sangong(AUTHORISED),),
    "sangong_spent": (_sangong(PAID), _sangong(TAKEN_BACK)),
    "planned": (Part("ProcurementPlanned", AMOUNT, line=PROCUREMENT_LINE),),
    "contracted": (Part("ContractAwarded", AMOUNT, line=PROCUREMENT_LINE),),
}
LINE_MONEY = frozenset(MONEY) - {"planned", "contracted"}  # a line's figures are its budget's
# each case counted once: by the event that puts it in the count
CASES: dict[str, Part] = {
    name: Part(event_type, where=where, case=True)
    for name, event_type, where in (
        ("reported", "CaseReported", ""),
        ("accepted", "CaseAccepted", ""),
        ("filed", "CaseFiled", ""),
        ("dispatched", "CaseDispatched", FIRST_DISPATCH),  # a re-dispatch: the same case
        ("disposed", "CaseDisposed", ""),
        ("closed", "CaseClosed", ""),
        ("closed_on_time", "CaseClosed", "c.closed_at <= c.deadline_at"),
        ("due", "CaseFiled", f"(c.deadline_at < $3 OR {CLOSED_BY_THEN})"),
        ("due_closed", "CaseClosed", "c.deadline_at IS NOT NULL"),
        ("open", "CaseAccepted", OPEN_THEN),
        ("overdue", "CaseFiled", f"c.deadline_at < $3 AND {OPEN_THEN}"),
        ("advance_disposals", "CaseReported", "c.advance_disposal"),
    )
}


def parts_of(metric: str, line_id: str | None) -> tuple[str, tuple[Part, ...]]:
    """The metric's contract name and its parts; UserInputError for a metric without
    evidence of its own (a rate: its numerator's and its denominator's)."""
    name = snake(metric)
    if name in RATES:
        numerator, denominator = (camel(n) for n in RATES[name])
        raise UserInputError(
            f"metric {metric!r} is a rate: its evidence is that of its numerator {numerator} "
            f"and of its denominator {denominator}"
        )
    if line_id is not None and name not in LINE_MONEY:
        raise UserInputError(
            f"metric {metric!r} with lineId: a budget line has budget figures only "
            f"({', '.join(sorted(camel(m) for m in LINE_MONEY))})"
        )
    if name in MONEY:
        return name, MONEY[name]
    if name in CASES:
        return name, (CASES[name],)
    known = sorted(camel(m) for m in (*MONEY, *CASES))
    raise UserInputError(f"metric {metric!r} has no evidence: it is none of {', '.join(known)}")


def end_of(day: date, timezone: ZoneInfo) -> datetime:
    """The first instant after ``day`` in the time zone: "as of the day" counts what occurred
    before it."""
    return datetime.combine(day + timedelta(days=1), time(), timezone)


def cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"ledger:{position}".encode()).decode()


def position_after(after: str | None) -> int:
    """The ledger position a cursor stands for (0: from the start)."""
    if after is None:
        return 0
    try:
        kind, _, position = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
        if kind == "ledger" and position.isdigit():
            return int(position)
    except (binascii.Error, UnicodeError):
        pass
    raise UserInputError(f"after {after!r} is not a cursor of this connection (an endCursor)")


def page_href(code: str, year: int, as_of: str | None, metric: str, line: str | None = None) -> str:
    """Where the evidence of a figure is shown (``metric`` as GraphQL names it)."""
    query = urlencode({k: v for k, v in (("asOf", as_of), ("lineId", line)) if v})
    return f"/departments/{code}/{year}/evidence/{metric}" + (f"?{query}" if query else "")


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_FIRST:
        raise UserInputError(f"first {first} is not between 1 and {MAX_FIRST}")
    return first
