"""What operators did: the audit trail of the operator CLIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

import strawberry


@strawberry.type(description="One run of an operator command (ledger or performance CLI)")
class OperatorAction:
    action_id: int = strawberry.field(description="In the order they were recorded")
    actor: str = strawberry.field(description="Who: OPERATOR_NAME, or the OS user@host")
    action: str = strawberry.field(description="e.g. rejections resubmit, replay")
    arguments: str = strawberry.field(description="The options given, as a JSON object")
    department: str | None = strawberry.field(description="The department acted on, if one")
    fiscal_year: int | None = strawberry.field(description="The fiscal year acted on, if one")
    outcome: str = strawberry.field(description="ok or failed")
    detail: str | None = strawberry.field(description="What it did, or why it failed")
    started_at: datetime = strawberry.field(description="When it started")
    finished_at: datetime = strawberry.field(description="When it ended")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        return cls(**row)
