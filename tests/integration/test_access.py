"""Access at the gateway (docs/contract.md section 6) on the real service over HTTP: a token
sees its departments and their subunits and nothing else (fields, lists, pages, exports,
includeSubunits); tokens that do not verify get 401; the query limits refuse abusive
queries while the evaluation page's own query passes; exported cells are neutralised."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from services.common import audit
from services.performance import store
from tests.fakes_performance import typed_all
from tests.gateway import SECRET, Gateway, context, serving, token
from tests.integration.conftest import LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS, migrated_pool
from tests.integration.test_as_of import TZ

pytestmark = pytest.mark.integration

ISSUER = "https://idp.example.test/realms/finance"
FORMULA = '=HYPERLINK("http://evil.example","点我")'


def entry(event_type: str, department: str, at: str = "2017-03-01T10:00", **data: Any) -> dict:
    event = {"event_type": event_type, "department": department, "fiscal_year": 2017,
             "occurred_at": f"{at}:00+08:00", "data": data}  # fmt: skip
    return {"event": event, "context": {}}


def units() -> list[dict[str, Any]]:
    """A bureau with units at two depths (one with a name that is a formula), an unrelated
    department; a line each; the bureau's platform dispatches cases inside and outside."""
    entries = [
        entry("DepartmentRegistered", "BUREAU", name="局"),
        entry("DepartmentRegistered", "UNIT-A", name="A", parent="BUREAU"),
        entry("DepartmentRegistered", "UNIT-B", name="B", parent="BUREAU"),
        entry("DepartmentRegistered", "TEAM-B1", name="B1", parent="UNIT-B"),
        entry("DepartmentRegistered", "UNIT-F", name=FORMULA, parent="BUREAU"),
        entry("DepartmentRegistered", "OTHER", name="O"),
    ]
    for department in ("BUREAU", "UNIT-A", "TEAM-B1", "OTHER"):
        line = f"L-{department}"
        entries += [
            entry("BudgetAuthorised", department, line_id=line, title=line, category="project",
                  amount="1000.00"),
            entry("FundsArrived", department, line_id=line, amount="600.00"),
        ]  # fmt: skip
    for n, assignee in enumerate(["UNIT-A", "UNIT-F", "OTHER", "OTHER"]):
        case = f"C{n}"
        entries += [
            entry("CaseReported", "BUREAU", "2017-03-02T09:00", case_id=case,
                  channel="public_hotline", category="占道经营", kind="event"),
            entry("CaseAccepted", "BUREAU", "2017-03-02T09:10", case_id=case),
            entry("CaseFiled", "BUREAU", "2017-03-02T09:20", case_id=case,
                  deadline_at="2017-03-05T18:00:00+08:00"),
            entry("CaseDispatched", "BUREAU", "2017-03-02T09:30", case_id=case, assignee=assignee),
            entry("CaseClosed", "BUREAU", "2017-03-04T10:00", case_id=case),
        ]  # fmt: skip
    for position, e in enumerate(entries, start=1):
        e["position"] = position
    return entries


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory, pg_dsn: str) -> AsyncIterator[Gateway]:
    from tests.conftest import create_database

    database = await create_database(pg_dsn)
    async with migrated_pool(database, LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS) as pool:
        await store.apply_entries(pool, typed_all(units()), TZ)
        async with pool.acquire() as conn:
            for department, action in [("BUREAU", "replay"), ("OTHER", "replay"),
                                       (None, "journal republish")]:  # fmt: skip
                done = audit.Action(action, {"fiscal_year": 2017}, department, 2017, "done")
                await audit.record(conn, done, "ok", "alice@ops")
    logs = tmp_path_factory.mktemp("gateway") / "reporting.log"
    async with serving(database, logs, AUTH_ISSUER=ISSUER) as gateway:
        yield gateway


def of(departments: list[str], roles: list[str] | None = None, **claims: Any) -> str:
    return token(departments, roles or ["evaluator"], iss=ISSUER, **claims)


def codes(errors: list[dict[str, Any]]) -> dict[str, str]:
    return {".".join(map(str, e["path"])): e["extensions"]["code"] for e in errors}


SCOPED = """{
  bureau: departmentEvaluation(department: "BUREAU", fiscalYear: 2017, includeSubunits: true) {
    subunits cases { byAssignee { assignee } } }
  other: departmentEvaluation(department: "OTHER", fiscalYear: 2017) { department }
  inside: lineEvaluation(lineId: "L-TEAM-B1") { lineId }
  outside: lineEvaluation(lineId: "L-OTHER") { lineId }
  departments { code }
  assessment(department: "BUREAU", fiscalYear: 2017, month: 3) { assignees { assignee } }
}"""


async def test_a_token_sees_its_departments_and_their_subunits_and_nothing_else(
    gateway: Gateway,
) -> None:
    status, body = gateway.post(SCOPED, of(["BUREAU"]))
    assert status == 200
    data = body["data"]
    units = ["TEAM-B1", "UNIT-A", "UNIT-B", "UNIT-F"]
    assert sorted(data["bureau"]["subunits"]) == units
    assert [a["assignee"] for a in data["bureau"]["cases"]["byAssignee"]] == ["UNIT-A", "UNIT-F"]
    assert data["other"] is None and data["outside"] is None  # the rest still answers
    assert data["inside"] == {"lineId": "L-TEAM-B1"}
    assert sorted(d["code"] for d in data["departments"]) == ["BUREAU", *units]
    assert [a["assignee"] for a in data["assessment"]["assignees"]] == ["UNIT-A", "UNIT-F"]
    assert codes(body["errors"]) == {"other": "FORBIDDEN", "outside": "FORBIDDEN"}

    # an auditor of every department sees what the bureau's token was not shown
    _, everything = gateway.post(SCOPED, of(["*"], ["auditor"]))
    assert "errors" not in everything
    assignees = [a["assignee"] for a in everything["data"]["bureau"]["cases"]["byAssignee"]]
    assert assignees == ["OTHER", "UNIT-A", "UNIT-F"]
    assert len(everything["data"]["departments"]) == 6

    # a subunit's token: its own subunits, never its parent's
    query = """{ up: departmentEvaluation(department: "BUREAU", fiscalYear: 2017,
                                           includeSubunits: true) { subunits }
                 own: departmentEvaluation(department: "UNIT-B", fiscalYear: 2017,
                                           includeSubunits: true) { subunits } }"""
    _, body = gateway.post(query, of(["UNIT-B"]))
    assert body["data"] == {"up": None, "own": {"subunits": ["TEAM-B1"]}}
    assert codes(body["errors"]) == {"up": "FORBIDDEN"}


async def test_roles_decide_what_a_token_may_read(gateway: Gateway) -> None:
    query = '{ departmentEvaluation(department: "BUREAU", fiscalYear: 2017) { department } }'
    _, body = gateway.post(query, of(["*"], ["operator"]))
    assert body["data"]["departmentEvaluation"] is None
    assert "needs the role auditor or evaluator" in body["errors"][0]["message"]
    digest = "{ projectionDigest(fiscalYear: 2017) }"
    _, body = gateway.post(digest, of(["BUREAU"], ["auditor"]))
    assert codes(body["errors"]) == {"projectionDigest": "FORBIDDEN"}
    _, body = gateway.post(digest, of(["*"], ["operator"]))
    assert len(body["data"]["projectionDigest"]) == 64


async def test_pages_and_exports_answer_403_outside_the_scope(gateway: Gateway) -> None:
    bureau = of(["BUREAU"])
    assert gateway.get("/departments/BUREAU/2017", bureau).status_code == 200
    refused = gateway.get("/departments/OTHER/2017", bureau)
    assert refused.status_code == 403 and "无权查看" in refused.text
    assert gateway.get("/departments/OTHER/2017/assessment.csv", bureau).status_code == 403
    assert gateway.get("/departments/BUREAU/2017/assessment/3.csv", bureau).status_code == 200


async def test_a_formula_in_an_upstream_name_is_neutralised_in_the_csv(gateway: Gateway) -> None:
    response = gateway.get("/departments/BUREAU/2017/assessment/3.csv", of(["*"], ["auditor"]))
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    names = {row[1]: row[2] for row in rows[1:]}
    assert names["UNIT-F"] == "'" + FORMULA
    assert names["UNIT-A"] == "A"


def forged() -> str:
    claims = {"sub": "x", "departments": ["*"], "roles": ["auditor"], "iss": ISSUER,
              "exp": int(time.time()) + 600}  # fmt: skip
    return jwt.encode(claims, "another-secret-of-at-least-32-bytes!!")


@pytest.mark.parametrize(
    "bearer",
    [
        None,
        "not-a-jwt",
        "forged",
        "expired",
        "wrong issuer",
        "no expiry",
        "unsigned",
    ],
)
async def test_tokens_that_do_not_verify_get_401_and_nothing_else(
    gateway: Gateway, bearer: str | None
) -> None:
    now = int(time.time())
    claims = {"sub": "x", "departments": ["*"], "roles": ["auditor"], "iss": ISSUER}
    tokens = {
        None: None,
        "not-a-jwt": "not-a-jwt",
        "forged": forged(),
        "expired": of(["*"], ["auditor"], exp=now - 60),
        "wrong issuer": token(["*"], ["auditor"], iss="https://elsewhere.test"),
        "no expiry": jwt.encode(claims, SECRET, algorithm="HS256"),
        "unsigned": jwt.encode({**claims, "exp": now + 600}, None, algorithm="none"),
    }
    status, body = gateway.post("{ departments { code } }", tokens[bearer])
    assert status == 401
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    page = gateway.get("/departments/BUREAU/2017", tokens[bearer])
    assert page.status_code == 401 and "局" not in page.text
    assert gateway.get("/healthz").status_code == 200  # needs no token


async def test_the_login_link_keeps_the_token_in_a_cookie(gateway: Gateway) -> None:
    link = f"/login?token={of(['BUREAU'])}&next=/departments/BUREAU/2017"
    with httpx.Client(base_url=gateway.url, timeout=30) as browser:
        response = browser.get(link, follow_redirects=True)
        assert response.status_code == 200 and "局" in response.text
        assert "httponly" in response.history[0].headers["set-cookie"].lower()
        assert browser.get("/departments/OTHER/2017").status_code == 403
        away = browser.get(f"/login?token={of(['BUREAU'])}&next=//evil.example/")
        assert away.headers["location"] == "/graphql"  # never off the site
        assert browser.get("/login?token=forged").status_code == 401


async def test_auditors_read_what_operators_did_in_their_departments(gateway: Gateway) -> None:
    query = "{ operatorActions(fiscalYear: 2017) { actor action department outcome } }"
    _, body = gateway.post(query, of(["*"], ["auditor"]))
    assert body["data"]["operatorActions"] == [
        {"actor": "alice@ops", "action": "journal republish", "department": None, "outcome": "ok"},
        {"actor": "alice@ops", "action": "replay", "department": "OTHER", "outcome": "ok"},
        {"actor": "alice@ops", "action": "replay", "department": "BUREAU", "outcome": "ok"},
    ]  # newest first
    _, body = gateway.post(query, of(["BUREAU"], ["auditor"]))
    assert [a["department"] for a in body["data"]["operatorActions"]] == ["BUREAU"]
    _, body = gateway.post(query, of(["*"], ["evaluator"]))
    assert codes(body["errors"]) == {"operatorActions": "FORBIDDEN"}


def nested(depth: int) -> str:
    inner = "department"
    for _ in range(depth):
        inner = f"previousYear {{ {inner} }}"
    return f'{{ departmentEvaluation(department: "BUREAU", fiscalYear: 2017) {{ {inner} }} }}'


async def test_each_limit_refuses_an_abusive_query(gateway: Gateway) -> None:
    auditor = of(["*"], ["auditor"])
    fine = nested(3)
    _, body = gateway.post(fine, auditor)
    assert "errors" not in body
    _, body = gateway.post(nested(12), auditor)
    assert "exceeds maximum operation depth of 10" in body["errors"][0]["message"]
    aliases = " ".join(f"d{i}: departments {{ code }}" for i in range(31))
    _, body = gateway.post(f"{{ {aliases} }}", auditor)
    assert "31 aliases found. Allowed: 30" in body["errors"][0]["message"]
    digests = " ".join(f'd{i}: projectionDigest(fiscalYear: 2017, department: "X{i}")'
                       for i in range(8))  # fmt: skip
    _, body = gateway.post(f"{{ {digests} }}", auditor)
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 1600}
    _, body = gateway.post("{ departments { " + "code " * 6000 + "} }", auditor)
    assert "more than 5000 tokens" in body["errors"][0]["message"]
    large = gateway.post("{ departments { code } }" + " " * 70_000, auditor)
    assert large[0] == 413
    _, body = gateway.post("{ __schema { types { name } } }", auditor)
    assert "introspection" in body["errors"][0]["message"].lower()
    # the evaluation page asks its whole query (depth, cost) and renders
    assert gateway.get("/departments/BUREAU/2017", auditor).status_code == 200


async def test_an_internal_error_is_masked_and_its_id_is_in_the_log(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.gateway import SCHEMA

    async with migrated_pool(database) as pool:  # no tables: every query fails inside
        with caplog.at_level(logging.INFO, logger="services.reporting"):
            failed = await SCHEMA.execute("{ departments { code } }", context_value=context(pool))
            bad = await SCHEMA.execute(
                '{ assessment(department: "X", fiscalYear: 2017, month: 13) { department } }',
                context_value=context(pool),
            )
    assert failed.errors is not None and bad.errors is not None
    (masked,) = failed.errors
    error_id = masked.extensions["errorId"]
    assert masked.message == f"internal error; reference {error_id}"
    assert "relation" not in masked.message  # nothing of the database reaches the client
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the stack trace, under the id
    (told,) = bad.errors  # a user error stays as it is, in one line
    assert told.message.startswith("month 13 is not a month")
    assert told.extensions == {"code": "BAD_USER_INPUT"}
    (line,) = [r for r in caplog.records if "is not a month" in r.getMessage()]
    assert line.exc_info is None
