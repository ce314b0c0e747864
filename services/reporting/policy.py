"""What a query may cost, and what a client is told when it fails.

- Limits: depth, aliases and tokens (strawberry's validators), and a cost: every field
  selected counts 1, the expensive ones more (``WEIGHTS``), fragments counted where they
  are spread. Introspection only when GraphiQL is on (``GRAPHIQL=1``).
- Errors: the client reads user errors (syntax, validation, unknown department, bad date,
  ``FORBIDDEN``) as they are, logged in one line; any other error is masked to a short
  message with an id, which the log shows with its stack trace.
- Texts: an argument or variable holding U+0000, which no text of PostgreSQL or of an event
  can hold, is refused before anything runs (``BAD_USER_INPUT``, naming it).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    ArgumentNode,
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    ValueNode,
    Visitor,
    visit,
)
from graphql.validation import (
    ASTValidationRule,
    NoSchemaIntrospectionCustomRule,
    ValidationContext,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from schemas.messages import NUL, nul_path
from services.reporting.errors import TOLD

log = logging.getLogger("services.reporting")

# fields whose answer costs many queries or scans: what one selection of them counts
WEIGHTS = {
    "projectionDigest": 200,  # hashes every projection row of a year
    "assessment": 20,  # a month's bulletin; the year's (no month) counts YEAR_ASSESSMENT
    "lines": 20,
    "selfEvaluation": 20,  # an evaluation, its lines' funds by source and the names
    "reconcile": 20,  # an evaluation and its lines'
    "evidence": 20,  # an evaluation and a page of the event store (a money figure's sum)
    "previousYear": 20,
    "yearOverYear": 20,
    "monthly": 10,
    "operatorActions": 10,
}
YEAR_ASSESSMENT = 60


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_cost: int = 1500
    introspection: bool = False

    def extensions(self) -> list[Callable[[], SchemaExtension]]:
        """Factories of the extensions that enforce the limits (one instance per request).

        The validation rules are made here, once: strawberry's validation cache is keyed by
        them, and its depth and alias limiters make a new rule class for every request (each
        query would be validated again, 20 ms for a department evaluation)."""
        rules: list[type[ASTValidationRule]] = [
            *QueryDepthLimiter(max_depth=self.max_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=self.max_aliases).validation_rules,
            cost_rule(self.max_cost),
        ]
        if not self.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        return [
            partial(MaxTokensLimiter, max_token_count=self.max_tokens),
            partial(AddValidationRules, rules),
            TextsWithoutNul,
            ToldOrMasked,
        ]


def cost_rule(max_cost: int) -> type[ValidationRule]:
    class MaxCost(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = _cost(self.context, node.selection_set, set())
            if cost > max_cost:
                name = node.name.value if node.name else "the query"
                self.report_error(
                    GraphQLError(
                        f"{name} costs {cost}, more than the limit of {max_cost} "
                        "(every field counts 1; projectionDigest, assessment, lines, "
                        "previousYear, yearOverYear and monthly count more)",
                        node,
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost},
                    )
                )

    return MaxCost


def _cost(context: ValidationContext, selections: SelectionSetNode | None, seen: set[str]) -> int:
    if selections is None:
        return 0
    cost = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            cost += _weight(selection) + _cost(context, selection.selection_set, seen)
        elif isinstance(selection, InlineFragmentNode):
            cost += _cost(context, selection.selection_set, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = context.get_fragment(selection.name.value)  # cycles: a rule of its own
            inner = seen | {selection.name.value}
            cost += _cost(context, fragment.selection_set if fragment else None, inner)
    return cost


def _weight(field: FieldNode) -> int:
    name = field.name.value
    if name == "assessment" and not any(a.name.value == "month" for a in field.arguments or ()):
        return YEAR_ASSESSMENT
    return WEIGHTS.get(name, 1)


class ToldOrMasked(SchemaExtension):
    """User errors reach the client as they are (and the log in one line); internal ones are
    replaced by a message with an id, under which the log keeps the stack trace."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [_told_or_masked(error) for error in errors]


def _told_or_masked(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, TOLD) or error.path is None:
        where = ".".join(map(str, error.path)) if error.path else "query"
        log.info("graphql: %s: %s", where, error.message)
        return error
    error_id = secrets.token_hex(6)
    log.error("graphql internal error %s at %s", error_id, error.path, exc_info=original)
    return GraphQLError(
        f"internal error; reference {error_id}",
        error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
    )


class TextsWithoutNul(SchemaExtension):
    """Refuses a request whose argument or variable holds U+0000 before it runs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        named = [
            f"${name}"
            for name, value in (context.variables or {}).items()
            if nul_path(value) is not None
        ]
        if "\\u" in (context.query or "") and context.graphql_document is not None:
            arguments = _ArgumentsWithNul()
            visit(context.graphql_document, arguments)
            named += arguments.names
        if named:
            message = f"{', '.join(named)}: a text must not contain the character U+0000"
            error = GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})
            context.result = ExecutionResult(data=None, errors=[error])  # nothing is executed
        yield


class _ArgumentsWithNul(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        if _literal_has_nul(node.value):
            self.names.append(node.name.value)


def _literal_has_nul(node: ValueNode) -> bool:
    if isinstance(node, StringValueNode):
        return NUL in node.value
    if isinstance(node, ListValueNode):
        return any(_literal_has_nul(v) for v in node.values)
    return isinstance(node, ObjectValueNode) and any(_literal_has_nul(f.value) for f in node.fields)
