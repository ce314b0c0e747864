"""A burst of 500 concurrent queries at the gateway: each is answered, or refused at once
with 503 and the GraphQL error code BUSY (beyond GATEWAY_MAX_IN_FLIGHT), never a 5xx of
another kind; the gateway stays up and answers the next query."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from demo import guandu2017 as demo
from tests import gateway
from tests.helpers import Stack

pytestmark = pytest.mark.integration

FIGURES = """{ departmentEvaluation(department: "GD-GRID", fiscalYear: 2017) {
  budget { adjustedBudget arrived spent arrivalRate executionRate } } }"""


async def test_a_burst_is_answered_or_refused_as_busy(stack: Stack) -> None:
    await stack.start_all(GATEWAY_MAX_IN_FLIGHT="16")
    await stack.settle(await stack.publish(("budget", e) for e in demo.budget_events()))
    expected = await stack.query(FIGURES)
    headers = {"authorization": f"Bearer {gateway.token()}"}
    limits = httpx.Limits(max_connections=500)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=120) as client:

        async def ask() -> tuple[int, str | None, dict]:
            response = await client.post(stack.graphql_url, json={"query": FIGURES})
            return response.status_code, response.headers.get("retry-after"), response.json()

        answers = await asyncio.gather(*(ask() for _ in range(500)))
    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) == {200, 503}, statuses
    assert statuses[200] >= 16, statuses
    for status, retry_after, body in answers:
        if status == 200:
            assert body == {"data": expected}
        else:
            assert retry_after == "1"
            assert [e["extensions"]["code"] for e in body["errors"]] == ["BUSY"]
            assert "GATEWAY_MAX_IN_FLIGHT" in body["errors"][0]["message"]
    assert stack.processes["reporting"].alive()
    assert await stack.query(FIGURES) == expected  # and it goes on
