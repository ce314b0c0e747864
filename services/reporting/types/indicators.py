"""Outputs and performance indicators (targets), scored."""

from __future__ import annotations

from typing import Any, Self

import strawberry

from services.reporting.evaluation import Row, ScoredTarget, Scores
from services.reporting.types.text import plain, plain_or_none, text


@strawberry.type(description="An output recorded (OutputRecorded), summed up to the date")
class Output:
    indicator: str = strawberry.field(description="What was produced, e.g. 门前三包信息")
    quantity: str = strawberry.field(description="Decimal string")
    unit: str = strawberry.field(description="Unit of the quantity, e.g. 条")

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return cls(indicator=row["indicator"], quantity=plain(row["quantity"]), unit=row["unit"])


_AS_SET = ("target_id", "line_id", "level1", "level2", "name", "metric", "comparator", "unit")


@strawberry.type(
    description="A performance indicator (PerformanceTargetSet) with its actual value and score"
)
class Indicator:
    target_id: str = strawberry.field(description="Setting the same target_id replaces it")
    line_id: str | None = strawberry.field(description="The line of a project target")
    level1: str = strawberry.field(description="e.g. 产出指标, 效益指标")
    level2: str = strawberry.field(description="e.g. 数量指标, 质量指标, 时效指标")
    name: str = strawberry.field(description="The indicator as the evaluation names it")
    metric: str = strawberry.field(
        description="A metric of docs/contract.md section 4 or output:<indicator>"
    )
    comparator: str = strawberry.field(description=">=, <= or =")
    value: str = strawberry.field(description="The target value")
    unit: str = strawberry.field(description="Unit of the target value")
    actual: str | None = strawberry.field(
        description="The metric as the evaluation reports it (a rate at 4 places); null when "
        "unknown (then it scores 0)"
    )
    weight: str = strawberry.field(description="Points")
    score: str = strawberry.field(description="Points earned, half-up to 2 decimals")

    @classmethod
    def from_scored(cls, scored: ScoredTarget) -> Self:
        t = scored.target
        return cls(
            **{k: t[k] for k in _AS_SET},
            value=plain(t["value"]),
            actual=plain_or_none(scored.actual),
            weight=plain(t["weight"]),
            score=str(scored.points),
        )


def scored_fields(outputs: tuple[Row, ...], scores: Scores) -> dict[str, Any]:
    """The outputs, indicators, score and grade of an evaluation."""
    return {
        "outputs": [Output.from_row(row) for row in outputs],
        "indicators": [Indicator.from_scored(s) for s in scores.indicators],
        "score": text(scores.score),
        "grade": scores.grade,
    }
