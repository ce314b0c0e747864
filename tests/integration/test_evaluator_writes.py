"""What evaluators write, on the real stack: the mutations publish to evaluation.events, the
ledger journals, the projections show the notes in the self-evaluation table and its
workbook, and a signature notices when a late event changes a figure it signed."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import httpx
import openpyxl
import pytest

from demo import guandu2017 as demo
from demo.base import envelope, moment
from schemas.events import figures_digest
from tests.gateway import Gateway, token
from tests.helpers import Stack, fetch, wait_for
from tests.integration.test_replay import cases

pytestmark = pytest.mark.integration

GRID = demo.GRID
EVALUATOR = token([GRID], ["evaluator"], sub="evaluator-li")
EXPLAIN = """mutation($target: String!, $text: String!) {
  explainDeviation(targetId: $target, text: $text) { eventId topic } }"""
GOAL = """mutation($department: String!, $expected: String!, $actual: String, $lineId: String) {
  stateGoal(fiscalYear: 2017, department: $department, expected: $expected, actual: $actual,
            lineId: $lineId) { eventId topic } }"""
SIGN = """mutation($department: String!, $asOf: Date!, $lineId: String) {
  signEvaluation(department: $department, fiscalYear: 2017, asOf: $asOf, lineId: $lineId) {
    eventId topic } }"""
SIGNED = """{
  departmentEvaluation(department: "GD-GRID", fiscalYear: 2017, asOf: "2017-08-31") {
    budget { spent balance }
    signatures { signer signedAt asOf lineId digest figuresChanged
                 changes { metric signed current } } } }"""
TABLE = """{ selfEvaluation(fiscalYear: 2017, department: "GD-GRID") {
  indicators { targetId deviationNote } goal { expected actual }
  signatures { signer lineId figuresChanged } } }"""


def write(gateway: Gateway, query: str, bearer: str = EVALUATOR, **variables: Any) -> Any:
    status, body = gateway.post(query, bearer, variables)
    assert status == 200, body
    return body


async def test_notes_goals_and_signatures_as_events(stack: Stack) -> None:
    await stack.start_all()
    year = [*(("budget", e) for e in demo.budget_events()), *cases(0, 300)]
    await stack.settle(await stack.publish(year))
    gateway = Gateway(f"http://127.0.0.1:{stack.port}")

    explained = write(gateway, EXPLAIN, target="closure", text="汛期积水案件集中，结案偏慢")
    published = explained["data"]["explainDeviation"]
    assert published["topic"] == stack.kafka.topics.evaluation_events
    write(gateway, GOAL, department=GRID, expected="保障网格化运行", actual="全年结案率96.73%")
    signed = write(gateway, SIGN, department=GRID, asOf="2017-08-31")["data"]["signEvaluation"]

    async def projected() -> bool:
        found = (await stack.query(SIGNED))["departmentEvaluation"]["signatures"]
        return bool(found)

    await wait_for(projected, timeout=120, what="the signature projected")
    topic = stack.kafka.topics.evaluation_events
    rows = await fetch(stack.dsn, "SELECT event_id, event_type FROM ledger.events "
                       f"WHERE source_topic = '{topic}' ORDER BY position")  # fmt: skip
    assert [r["event_id"] for r in rows] == [published["eventId"], rows[1]["event_id"],
                                             signed["eventId"]]  # fmt: skip
    assert [r["event_type"] for r in rows] == ["DeviationExplained", "GoalStated",
                                               "EvaluationSigned"]  # fmt: skip

    evaluation = (await stack.query(SIGNED))["departmentEvaluation"]
    (signature,) = evaluation["signatures"]
    assert signature["signer"] == "evaluator-li" and signature["asOf"] == "2017-08-31"
    assert signature["lineId"] is None and signature["figuresChanged"] is False
    assert signature["changes"] == []
    stored = await fetch(stack.dsn, "SELECT figures::text AS f FROM performance.signatures")
    figures = json.loads(stored[0]["f"])
    assert signature["digest"] == figures_digest(figures)
    assert figures["spent"] == evaluation["budget"]["spent"]

    table = (await stack.query(TABLE))["selfEvaluation"]
    notes = {i["targetId"]: i["deviationNote"] for i in table["indicators"]}
    assert notes["closure"] == "汛期积水案件集中，结案偏慢" and notes["execution"] is None
    assert table["goal"] == {"expected": "保障网格化运行", "actual": "全年结案率96.73%"}
    assert table["signatures"] == [{"signer": "evaluator-li", "lineId": None,
                                    "figuresChanged": False}]  # fmt: skip
    workbook = await asyncio.to_thread(
        httpx.get, f"{gateway.url}/departments/{GRID}/2017/self-evaluation.xlsx",
        headers={"authorization": f"Bearer {EVALUATOR}"}, timeout=60,
    )  # fmt: skip
    cells = {str(c.value) for row in openpyxl.load_workbook(io.BytesIO(workbook.content)).active
             for c in row if c.value is not None}  # fmt: skip
    assert {"汛期积水案件集中，结案偏慢", "保障网格化运行", "全年结案率96.73%"} <= cells

    # a late reversal of a payment made before the signed day changes its figures
    reversal = envelope(
        "late-reversal",
        "DisbursementReversed",
        moment(6, 15),
        GRID,
        "finance",
        {"reverses": f"gd2017-{demo.BASIC_LINE}-pay-03-302", "reason": "退回"},
    )
    await stack.settle(await stack.publish([("budget", reversal)]))
    evaluation = (await stack.query(SIGNED))["departmentEvaluation"]
    (signature,) = evaluation["signatures"]
    assert signature["figuresChanged"] is True
    changed = {c["metric"]: (c["signed"], c["current"]) for c in signature["changes"]}
    assert changed["spent"] == (figures["spent"], evaluation["budget"]["spent"])
    assert changed["balance"][1] == evaluation["budget"]["balance"]
    assert "arrived" not in changed  # only what changed


async def test_who_may_write_and_what_is_refused(stack: Stack) -> None:
    await stack.start_all()
    await stack.settle(await stack.publish([("budget", e) for e in demo.budget_events()]))
    gateway = Gateway(f"http://127.0.0.1:{stack.port}")
    for bearer, query, variables, code, message in (
        (token([GRID], ["auditor"]), SIGN, {"department": GRID, "asOf": "2017-08-31"},
         "FORBIDDEN", "signEvaluation needs the role evaluator"),
        (token([demo.BUREAU], ["evaluator"], sub="x"), SIGN,
         {"department": GRID, "asOf": "2017-08-31"}, "FORBIDDEN", ""),
        (EVALUATOR, SIGN, {"department": GRID, "asOf": "2018-01-01"}, "BAD_USER_INPUT",
         "asOf 2018-01-01 is outside fiscal year 2017"),
        (EVALUATOR, SIGN, {"department": GRID, "asOf": "2017-08-31", "lineId": demo.ZHGD_LINE},
         "BAD_USER_INPUT", f"lineId '{demo.ZHGD_LINE}' is a line of {demo.BUREAU} in 2017"),
        (EVALUATOR, EXPLAIN, {"target": "nothing", "text": "x"}, "BAD_USER_INPUT",
         "targetId 'nothing': no target has this id"),
        (EVALUATOR, EXPLAIN, {"target": "closure", "text": "x" * 2001}, "BAD_USER_INPUT",
         "text: String should have at most 2000 characters"),
        (EVALUATOR, GOAL, {"department": GRID, "expected": ""}, "BAD_USER_INPUT",
         "expected: String should have at least 1 character"),
    ):  # fmt: skip
        body = write(gateway, query, bearer, **variables)
        error = body["errors"][0]
        assert error["extensions"]["code"] == code and error["message"].startswith(message), body
    rows = await fetch(stack.dsn, "SELECT count(*) AS n FROM ledger.events WHERE "
                       f"source_topic = '{stack.kafka.topics.evaluation_events}'")  # fmt: skip
    assert rows[0]["n"] == 0  # nothing refused was published
