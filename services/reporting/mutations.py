"""What evaluators write (docs/contract.md section 9): each mutation checks the question as
a query would (the role ``evaluator``, the department in the token's scope, the target or
line the department's, the day in the year), then publishes the event to
``evaluation.events``; the ledger validates and journals it like any other, and the
projections show it once applied. The author or signer is the token's subject."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

import strawberry
from pydantic import ValidationError
from strawberry.types import Info

from schemas.events import Envelope, figures_digest
from schemas.versions import event_adapter
from services.reporting.errors import UserInputError
from services.reporting.evaluation import DepartmentKey, evaluation_day
from services.reporting.loaders import Context
from services.reporting.names import camel
from services.reporting.queries import notes
from services.reporting.types.signatures import figures_of

WRITERS = frozenset({"evaluator"})
SOURCE = "reporting-gateway"
TEXT = strawberry.argument(description="Chinese text as the table prints it (at most 2000)")


@strawberry.type(description="An event the broker has acknowledged")
class PublishedEvent:
    event_id: str = strawberry.field(description="Its event_id: the ledger journals it once")
    topic: str = strawberry.field(description="Where it went: evaluation.events")


async def _published(
    context: Context, event_type: str, department: str, year: int, data: dict[str, Any]
) -> PublishedEvent:
    event_id = f"evaluation-{uuid.uuid4()}"
    try:
        event: Envelope = event_adapter.validate_python(
            {
                "event_id": event_id,
                "event_type": event_type,
                "schema_version": 1,
                "occurred_at": datetime.now(UTC),
                "department": department,
                "fiscal_year": year,
                "source": SOURCE,
                "data": data,
            },  # fmt: skip
            strict=False,
        )
    except ValidationError as error:
        first = error.errors()[0]  # at event_type, data, field: the mutation's argument
        raise UserInputError(f"{camel(str(first['loc'][-1]))}: {first['msg']}") from None
    if context.publisher is None:
        raise UserInputError("this gateway has no broker to write to (KAFKA_BOOTSTRAP_SERVERS)")
    return PublishedEvent(event_id=event_id, topic=await context.publisher.publish(event))


async def _writer(context: Context, department: str, what: str) -> str:
    """The token's subject, once it may write for the department."""
    context.viewer.require_role(WRITERS, what)
    (await context.scope()).require(department)
    if not context.viewer.subject:
        raise UserInputError(f"{what}: the token names no subject (sub) to sign as")
    return context.viewer.subject


async def _line_of(context: Context, line_id: str, department: str, year: int) -> None:
    line = (await context.lines.load((line_id, None))).line
    if (line["department"], line["fiscal_year"]) != (department, year):
        raise UserInputError(
            f"lineId {line_id!r} is a line of {line['department']} in {line['fiscal_year']}, "
            f"not of {department} in {year}"
        )


@strawberry.type(description="What evaluators write: notes and sign-offs, as events")
class Mutation:
    @strawberry.mutation(description="偏差原因: why a target's actual deviates from its value")
    async def explain_deviation(
        self,
        info: Info[Context, None],
        target_id: Annotated[str, strawberry.argument(description="The target explained")],
        text: Annotated[str, TEXT],
        department: Annotated[
            str | None,
            strawberry.argument(description="Its department, where several set this target id"),
        ] = None,
    ) -> PublishedEvent:
        async with info.context.pool.acquire() as conn:
            owners = await notes.target_owners(conn, target_id)
        found = [o for o in owners if department in (None, o["department"])]
        if not found:
            where = f" of {department}" if department else ""
            raise UserInputError(f"targetId {target_id!r}: no target{where} has this id")
        if len(found) > 1:
            raise UserInputError(
                f"targetId {target_id!r} is a target of {len(found)} departments: give department"
            )
        code, year = found[0]["department"], found[0]["fiscal_year"]
        author = await _writer(info.context, code, "explainDeviation")
        data = {"target_id": target_id, "text": text, "author": author}
        return await _published(info.context, "DeviationExplained", code, year, data)

    @strawberry.mutation(description="年度总体目标: a department's or line's goal for the year")
    async def state_goal(
        self,
        info: Info[Context, None],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        department: Annotated[str, strawberry.argument(description="Department code")],
        expected: Annotated[str, TEXT],
        actual: Annotated[str | None, TEXT] = None,
        line_id: Annotated[
            str | None, strawberry.argument(description="A line's goal; none: the department's")
        ] = None,
    ) -> PublishedEvent:
        author = await _writer(info.context, department, "stateGoal")
        if line_id is not None:
            await _line_of(info.context, line_id, department, fiscal_year)
        data = {"line_id": line_id, "expected": expected, "actual": actual, "author": author}
        return await _published(info.context, "GoalStated", department, fiscal_year, data)

    @strawberry.mutation(
        description="Sign the evaluation of a department (or of its line) as of a day: the "
        "event keeps its figures and their digest, against which later events are checked"
    )
    async def sign_evaluation(
        self,
        info: Info[Context, None],
        department: Annotated[str, strawberry.argument(description="Department code")],
        fiscal_year: Annotated[int, strawberry.argument(description="e.g. 2017")],
        as_of: Annotated[date, strawberry.argument(description="The day signed, in the year")],
        line_id: Annotated[
            str | None, strawberry.argument(description="A line's evaluation instead")
        ] = None,
    ) -> PublishedEvent:
        context = info.context
        signer = await _writer(context, department, "signEvaluation")
        evaluation_day(as_of, fiscal_year, context.today)  # in the year
        if line_id is not None:
            await _line_of(context, line_id, department, fiscal_year)
        figures = await figures_of(context, DepartmentKey(department, fiscal_year, as_of, False),
                                   line_id)  # fmt: skip
        data = {"line_id": line_id, "as_of": as_of, "signer": signer, "figures": figures,
                "digest": figures_digest(figures)}  # fmt: skip
        return await _published(context, "EvaluationSigned", department, fiscal_year, data)
