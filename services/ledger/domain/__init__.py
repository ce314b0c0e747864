"""The ledger's aggregates and the rules of docs/contract.md section 3.

Pure: no I/O. Each aggregate changes state only by ``record``-ing an accepted event;
every rule is a ``check_*`` method that raises ``Rejected`` with a stable reason code
and a message naming the field and the rule. The context an event is recorded with
(``JournalContext``) is what the journal carries besides the event.
"""

from __future__ import annotations

from typing import Any

from services.ledger.domain.base import (
    Aggregate,
    References,
    Rejected,
    referenced_line,
    stream_id_of,
)
from services.ledger.domain.budget import BudgetLine, line_of
from services.ledger.domain.cases import Case
from services.ledger.domain.departments import Department
from services.ledger.domain.procurement import Procurement

__all__ = [
    "AGGREGATES",
    "Aggregate",
    "BudgetLine",
    "Case",
    "Department",
    "Procurement",
    "References",
    "Rejected",
    "line_of",
    "load_aggregate",
    "new_aggregate",
    "referenced_line",
    "stream_id_of",
]

AGGREGATES: dict[str, type[Aggregate]] = {
    "line": BudgetLine,
    "procurement": Procurement,
    "case": Case,
    "department": Department,
}


def new_aggregate(stream_id: str) -> Aggregate:
    kind, _, rest = stream_id.partition(":")
    if kind == "line":
        return BudgetLine(line_id=rest)
    if kind == "procurement":
        return Procurement(procurement_id=rest)
    return AGGREGATES[kind]()


def load_aggregate(stream_id: str, version: int, state: dict[str, Any]) -> Aggregate:
    kind = stream_id.partition(":")[0]
    return AGGREGATES[kind].from_state(version, state)  # type: ignore[attr-defined,no-any-return]
