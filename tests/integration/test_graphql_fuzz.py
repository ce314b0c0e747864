"""The GraphQL API fuzzed (schemathesis, from the gateway's own introspection): every query
and mutation, with generated arguments and selections, against a projected year, as an
auditor and as an evaluator. No answer is a server error: no HTTP 5xx, no masked
INTERNAL_SERVER_ERROR, and every answer is GraphQL JSON."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo import guandu2017 as demo
from tests import gateway
from tests.gateway import token
from tests.helpers import Stack
from tests.integration.test_replay import cases

pytestmark = pytest.mark.integration

EXAMPLES = 40  # per operation and token
DATES = st.dates(dt.date(2015, 1, 1), dt.date(2019, 12, 31)).map(str) | st.text(max_size=12)
schemathesis.graphql.scalar("Date", DATES.map(schemathesis.graphql.nodes.String))
schemathesis.graphql.scalar(
    "DateTime", st.datetimes().map(lambda t: schemathesis.graphql.nodes.String(t.isoformat()))
)
schemathesis.graphql.scalar("JSON", st.just(schemathesis.graphql.nodes.Null))


def fuzzed(url: str, bearer: str, seen: Counter[str], failures: list[str]) -> None:
    """Every operation of the schema, ``EXAMPLES`` generated requests each; what failed,
    the smallest example of each operation, in ``failures``."""
    headers = {"authorization": f"Bearer {bearer}"}
    schema = schemathesis.graphql.from_url(url, headers=headers, timeout=30)
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def answers(case: Any) -> None:
            response = case.call(session=session, headers=headers, timeout=60)
            assert response.status_code < 500, (case.body, response.text[:2000])
            body = response.json()
            codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
            assert "INTERNAL_SERVER_ERROR" not in codes, (case.body, body)
            seen[case.operation.label] += 1
            seen["with data"] += any((body.get("data") or {}).values())

        try:
            answers()
        except AssertionError as failed:  # every operation is tried; all failures reported
            failures.append(f"{operation.label}: {failed}"[:3000])


async def test_no_generated_query_is_a_server_error(stack: Stack) -> None:
    await stack.start_all(GRAPHIQL="1")
    year = [*(("budget", e) for e in demo.budget_events()), *cases(0, 500)]
    await stack.settle(await stack.publish(year))
    seen: Counter[str] = Counter()
    failures: list[str] = []
    fuzzed(stack.graphql_url, token(), seen, failures)
    evaluator = token([demo.GRID], ["evaluator"], sub="fuzz-evaluator")
    fuzzed(stack.graphql_url, evaluator, seen, failures)
    assert not failures, "\n\n".join(failures)
    schema = gateway.SCHEMA._schema
    roots = [("Query", schema.query_type), ("Mutation", schema.mutation_type)]
    every = {f"{name}.{field}" for name, root in roots if root for field in root.fields}
    assert {k for k in seen if k != "with data"} == every, seen  # each reached
    assert seen["with data"] > 0, seen  # and some answered with figures, not only errors
    assert stack.processes["reporting"].alive()
