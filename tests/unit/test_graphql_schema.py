"""The GraphQL surface documents itself: every type, field and argument has a description,
and the contract's queries and field names exist (docs/contract.md section 5)."""

from __future__ import annotations

import pytest

from services.reporting import policy
from services.reporting.policy import QueryLimits
from services.reporting.schema import build_schema
from tests.gateway import SCHEMA as schema

INTROSPECTION = """{ __schema { types { name kind description
    fields { name description args { name description } } } } }"""


def test_every_type_field_and_argument_is_described() -> None:
    result = schema.execute_sync(INTROSPECTION)
    assert result.errors is None
    missing = []
    for t in result.data["__schema"]["types"]:  # type: ignore[index]
        if t["name"].startswith("__") or t["kind"] != "OBJECT":
            continue
        if not t["description"]:
            missing.append(t["name"])
        for f in t["fields"]:
            if not f["description"]:
                missing.append(f"{t['name']}.{f['name']}")
            missing += [
                f"{t['name']}.{f['name']}({a['name']})" for a in f["args"] if not a["description"]
            ]
    assert missing == []


def test_the_contract_surface_exists() -> None:
    sdl = schema.as_str()
    for piece in (
        "departmentEvaluation(",
        "lineEvaluation(",
        "fiscalYear: Int!",
        "asOf: Date",
        "byCategory: [CategorySpending!]!",
        "byEconomicClass: [EconomicClassSpending!]!",
        "byChannel: [ChannelCases!]!",
        "procurementExecutionRate: String",
        "sangongControlRate: String",
        "onTimeRate: String",
        "closureRateDue: String",
        "indicators: [Indicator!]!",
        "grade: String",
        "selfEvaluation(",
        "): SelfEvaluation",
        "lineId: String = null",
        "bySource: [SourceFunds!]!",
        "deviationNote: String",
        "implementingUnits: [String!]!",
    ):
        assert piece in sdl, piece


def test_a_query_asked_again_is_not_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits' validation rules are the same for every request, so strawberry's validation
    cache answers a query asked before (the cost rule is not run again)."""
    costed = []
    monkeypatch.setattr(policy, "_cost", lambda *args: costed.append(args) or 1)
    fresh = build_schema(QueryLimits(max_depth=9))  # limits of its own: not cached before
    for _ in range(3):
        result = fresh.execute_sync("query AskedAgain { __typename }")
        assert result.errors is None
    assert len(costed) == 1


def test_a_text_holding_nul_is_refused_before_anything_runs() -> None:
    """No text of PostgreSQL or of an event can hold U+0000: a literal or a variable with it
    is refused, named, before a resolver (and its database query) runs."""
    literal = schema.execute_sync(
        '{ departmentEvaluation(department: "GD\\u0000", fiscalYear: 2017) { department } }'
    )
    assert literal.data is None and literal.errors is not None
    assert literal.errors[0].message == ("department: a text must not contain the character U+0000")
    assert literal.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    variable = schema.execute_sync(
        "mutation($t: String!) { explainDeviation(targetId: $t, text: $t) { eventId } }",
        variable_values={"t": "a\x00"},
    )
    assert variable.errors is not None and variable.errors[0].message.startswith("$t: ")
