"""Least privilege in the database (deploy/provision.py): each service's role may do what the
service does and nothing more; the event store and the audit of operator actions are
append-only even for their owner (their triggers); the operator CLIs record what they did."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from demo import guandu2017 as demo
from deploy.provision import ROLES, provision, role_dsn
from schemas.events import TOPIC_GROUP
from services.common.db import MigrationsPending, create_pool, migrate
from services.common.event_store import journal_after
from services.common.projections import digest
from services.ledger.ingest import ingest_batch
from services.ledger.records import InboundRecord
from services.ledger.store import PostgresLedgerStore
from services.performance import store as performance
from tests.conftest import KafkaTarget, create_database
from tests.helpers import Stack, fetch
from tests.integration.conftest import LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS
from tests.unit.test_ledger_rules import TOPICS

pytestmark = pytest.mark.integration

DENIED = asyncpg.InsufficientPrivilegeError
EVENT = """INSERT INTO ledger.events (event_id, content_hash, stream_id, stream_version,
    event_type, department, fiscal_year, occurred_at, payload, source_topic, source_partition,
    source_offset)
VALUES ('ev-{n}', '\\x01', 'line:L{n}', 1, 'BudgetAuthorised', 'D01', 2017,
    '2017-01-02T09:00:00+08', '{{}}', 'budget.events', 0, {n})"""
AUDIT = """INSERT INTO ledger.operator_actions (actor, action, arguments, outcome, started_at)
VALUES ('someone', 'rejections resubmit', '{}', 'ok', now())"""


@pytest.fixture
async def dsns(database: str) -> dict[str, str]:
    return await provision(database)


@pytest.fixture
async def as_role(dsns: dict[str, str]) -> AsyncIterator[dict[str, asyncpg.Connection]]:
    """A connection as each service's role, by service."""
    conns = {service: await asyncpg.connect(dsn) for service, dsn in dsns.items()}
    try:
        yield conns
    finally:
        for conn in conns.values():
            await conn.close()


async def refused(conn: asyncpg.Connection, *statements: str, error: Any = DENIED) -> None:
    for sql in statements:
        with pytest.raises(error):
            await conn.execute(sql)


async def test_each_service_connects_as_its_own_role(
    as_role: dict[str, asyncpg.Connection],
) -> None:
    for service, conn in as_role.items():
        assert await conn.fetchval("SELECT current_user") == ROLES[service]
        assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")


async def test_the_ledger_appends_events_and_may_change_none(
    as_role: dict[str, asyncpg.Connection],
) -> None:
    ledger = as_role["ledger"]
    assert await ledger.execute(EVENT.format(n=1)) == "INSERT 0 1"
    assert await ledger.fetchval("SELECT count(*) FROM ledger.events") == 1
    # the DML of its other tables
    await ledger.execute("INSERT INTO ledger.streams VALUES ('line:L1', 1, '{}')")
    assert await ledger.execute("UPDATE ledger.streams SET version = 2") == "UPDATE 1"
    assert await ledger.execute("UPDATE ledger.relay_cursors SET position = 1") == "UPDATE 2"
    assert await ledger.execute(AUDIT) == "INSERT 0 1"
    await refused(
        ledger,
        "UPDATE ledger.events SET fiscal_year = 2018",
        "DELETE FROM ledger.events",
        "TRUNCATE ledger.events",
        "DELETE FROM ledger.streams",
        "UPDATE ledger.operator_actions SET outcome = 'failed'",
        "SELECT * FROM ledger.operator_actions",
        # DDL, and the ways around the triggers
        "CREATE TABLE ledger.extra (x int)",
        "ALTER TABLE ledger.events ADD COLUMN extra int",
        "ALTER TABLE ledger.events DISABLE TRIGGER events_append_only",
        "DROP TRIGGER events_append_only ON ledger.events",
        "DROP TABLE ledger.streams",
        "CREATE TABLE public.extra (x int)",
        "CREATE SCHEMA extra",
        "SET session_replication_role = replica",
        # nor the projections
        "SELECT * FROM performance.lines",
    )
    assert await ledger.fetchval("SELECT count(*) FROM ledger.events") == 1


async def test_performance_reads_the_event_store_and_owns_only_its_projections(
    as_role: dict[str, asyncpg.Connection],
) -> None:
    perf = as_role["performance"]
    assert await perf.fetchval("SELECT count(*) FROM ledger.events") == 0
    await refused(
        perf,
        EVENT.format(n=2),
        "UPDATE ledger.events SET fiscal_year = 2018",
        "DELETE FROM ledger.events",
        "TRUNCATE ledger.events",
        "SELECT * FROM ledger.streams",
        "UPDATE ledger.relay_cursors SET position = 7",
        "DROP TABLE ledger.events",
    )
    await perf.execute(
        "INSERT INTO performance.departments (code, name) VALUES ('D01', 'a department')"
    )
    assert await perf.execute("DELETE FROM performance.departments") == "DELETE 1"
    await perf.execute("CREATE SCHEMA performance_replay_test")  # what a replay does
    await perf.execute("DROP SCHEMA performance_replay_test")


async def test_reporting_only_reads(as_role: dict[str, asyncpg.Connection]) -> None:
    await as_role["ledger"].execute(EVENT.format(n=3))
    await as_role["ledger"].execute(AUDIT)
    await as_role["performance"].execute(
        "INSERT INTO performance.departments (code, name) VALUES ('D01', 'a department')"
    )
    reporting = as_role["reporting"]
    for table in (
        "performance.departments",
        "performance.line_daily",
        "performance.line_source_daily",
        "ledger.events",
        "ledger.rejections",
        "ledger.operator_actions",
    ):
        await reporting.fetch(f"SELECT * FROM {table}")
    assert await reporting.fetchval("SELECT count(*) FROM ledger.operator_actions") == 1
    await refused(
        reporting,
        "INSERT INTO performance.departments (code, name) VALUES ('D02', 'another')",
        "UPDATE performance.departments SET name = 'renamed'",
        "DELETE FROM performance.departments",
        "TRUNCATE performance.departments",
        EVENT.format(n=4),
        "UPDATE ledger.events SET fiscal_year = 2018",
        "DELETE FROM ledger.events",
        AUDIT,
        "SELECT * FROM ledger.streams",
        "CREATE SCHEMA performance_mine",
        "CREATE TABLE performance.mine (x int)",
    )


async def test_the_triggers_refuse_even_the_owner_and_a_superuser(
    database: str, dsns: dict[str, str]
) -> None:
    admin = await asyncpg.connect(database)
    try:
        assert await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        await admin.execute(EVENT.format(n=5))
        await admin.execute(AUDIT)
        for table, what in (
            ("ledger.events", "the event store"),
            ("ledger.operator_actions", "the audit of operator actions"),
        ):
            for sql in (f"UPDATE {table} SET department = 'D02'", f"DELETE FROM {table}"):
                with pytest.raises(asyncpg.RaiseError, match=f"{what} is append-only"):
                    await admin.execute(sql)
            with pytest.raises(asyncpg.RaiseError, match=f"{what} is append-only: TRUNCATE"):
                await admin.execute(f"TRUNCATE {table}")
        assert await admin.fetchval("SELECT count(*) FROM ledger.events") == 1
        # nobody that runs holds a privilege that the trigger is the only guard against
        for role in ROLES.values():
            for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
                assert not await admin.fetchval(
                    "SELECT has_table_privilege($1, 'ledger.events', $2)", role, privilege
                )
        # the maintenance escape hatch: a superuser, for one transaction
        async with admin.transaction():
            await admin.execute("SET LOCAL session_replication_role = replica")
            await admin.execute("TRUNCATE ledger.events, ledger.operator_actions")
        assert await admin.fetchval("SELECT count(*) FROM ledger.events") == 0
        with pytest.raises(asyncpg.RaiseError):  # and the guard is back
            await admin.execute("TRUNCATE ledger.events")
    finally:
        await admin.close()


async def privileges(dsn: str) -> list[tuple[Any, ...]]:
    """Every ACL and owner of the database's objects, as the catalog lists them."""
    rows = await fetch(
        dsn,
        """SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) AS owner,
                  c.relacl::text AS acl
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname IN ('ledger', 'performance', 'public')
           UNION ALL SELECT nspname, '', pg_get_userbyid(nspowner), nspacl::text
           FROM pg_namespace WHERE nspname IN ('ledger', 'performance')
           UNION ALL SELECT 'default', defaclobjtype::text, pg_get_userbyid(defaclrole),
                  defaclacl::text FROM pg_default_acl
           ORDER BY 1, 2""",
    )
    return [tuple(row.values()) for row in rows]


async def test_provisioning_again_and_concurrently_is_fine(pg_dsn: str) -> None:
    one, two = await create_database(pg_dsn), await create_database(pg_dsn)
    results = await asyncio.gather(provision(one), provision(two), provision(one))
    assert results[0] == results[2] == await provision(one)
    assert results[1]["ledger"] == role_dsn(two, "ledger_service")
    assert await privileges(one) == await privileges(two)
    before = await privileges(one)
    await provision(one)
    assert await privileges(one) == before
    for service, dsn in results[1].items():  # the services start: nothing is pending
        if service != "reporting":
            folder = LEDGER_MIGRATIONS if service == "ledger" else PERFORMANCE_MIGRATIONS
            await migrate(dsn, folder)


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="sets passwords on shared roles")
async def test_passwords_are_set_and_given_in_the_dsns(database: str) -> None:
    dsns = await provision(database, {"ledger": "s3cret/pw", "performance": None})
    assert dsns["ledger"].startswith("postgresql://ledger_service:s3cret%2Fpw@")
    assert dsns["performance"].startswith("postgresql://performance_service@")
    rows = await fetch(
        database, "SELECT rolpassword FROM pg_authid WHERE rolname = 'ledger_service'"
    )
    assert rows[0]["rolpassword"]
    conn = await asyncpg.connect(dsns["ledger"])  # trust over the socket: any password works
    await conn.close()


def test_role_dsns_keep_the_host_database_and_query() -> None:
    admin = "postgresql://postgres:@/postgres?host=/tmp/pg/socket"
    assert (
        role_dsn(admin, "ledger_service")
        == "postgresql://ledger_service@/postgres?host=/tmp/pg/socket"
    )
    assert (
        role_dsn("postgres://u:p@db:5433/l?sslmode=require&user=u", "r", "p@ss")
        == "postgres://r:p%40ss@db:5433/l?sslmode=require"
    )


async def test_a_role_that_may_not_migrate_says_what_to_run(
    dsns: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(LEDGER_MIGRATIONS, folder)
    (folder / "0003.ledger-later.sql").write_text("CREATE TABLE ledger.later (x int);\n")
    with pytest.raises(MigrationsPending, match=r"0003\.ledger-later.*python -m deploy\.provision"):
        await migrate(dsns["ledger"], folder)
    await migrate(dsns["ledger"], LEDGER_MIGRATIONS)  # nothing pending: fine


def records(events: list[dict[str, Any]]) -> list[InboundRecord]:
    topic_of = {group: topic for topic, group in TOPICS.items()}
    return [
        InboundRecord(topic_of[TOPIC_GROUP[e["event_type"]]], 0, i, json.dumps(e).encode())
        for i, e in enumerate(events)
    ]


def cli(service: str, dsn: str, *args: str, exit_code: int = 0, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}.cli", *args],
        env={**os.environ, "DATABASE_URL": dsn, "COLUMNS": "200", **env},
        capture_output=True,
        timeout=600,
    )
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == exit_code, output
    return output


async def project_under_the_roles(dsns: dict[str, str]) -> None:
    """The ledger's decisions and the live projections, written under the services' roles."""
    events = [*demo.budget_events(), *itertools.islice(demo.case_events(), 300)]
    ledger = await create_pool(dsns["ledger"])
    perf = await create_pool(dsns["performance"])
    try:
        decision = await ingest_batch(PostgresLedgerStore(ledger), records(events), TOPICS)
        assert len(decision.accepted) > 100, decision.refused[:1]
        async with perf.acquire() as conn:
            entries = await journal_after(conn, 0, 100_000)
        await performance.apply_entries(perf, entries, ZoneInfo("Asia/Shanghai"))
    finally:
        await perf.close()
        await ledger.close()


async def test_a_replay_under_the_performance_role_stays_readable_by_reporting(
    database: str, dsns: dict[str, str]
) -> None:
    await project_under_the_roles(dsns)
    conn = await asyncpg.connect(dsns["performance"])
    try:
        live = await digest(conn, 2017)
        await conn.execute("UPDATE performance.line_daily SET spent = spent + 1")  # broken
    finally:
        await conn.close()
    replay = ("replay", "--fiscal-year", "2017")
    output = cli("performance", dsns["performance"], *replay, OPERATOR_NAME="ops-1")
    assert f"swapped into the live projections; digest {live}" in output
    now = datetime.now(UTC).isoformat(timespec="seconds")
    output = cli("performance", dsns["performance"], *replay, "--until", now)
    snapshot = re.search(r"snapshot in schema (\S+);", output)
    assert snapshot, output

    reporting = await asyncpg.connect(dsns["reporting"])
    try:
        assert await digest(reporting, 2017) == live  # the swapped rows, readable
        assert await digest(reporting, 2017, schema=snapshot.group(1)) == live  # the snapshot
        actions = await reporting.fetch("SELECT * FROM ledger.operator_actions ORDER BY action_id")
    finally:
        await reporting.close()
    assert [(a["action"], a["outcome"], a["fiscal_year"]) for a in actions] == [
        ("performance replay", "ok", 2017),
        ("performance replay", "ok", 2017),
    ]
    assert actions[0]["actor"] == "ops-1"
    assert json.loads(actions[1]["arguments"])["until"] == now


async def test_the_operator_clis_record_what_they_did(dsns: dict[str, str]) -> None:
    started = datetime.now(UTC)
    cli(
        "ledger",
        dsns["ledger"],
        "journal",
        "republish",
        "--from-position",
        "3",
        OPERATOR_NAME="ana",
    )
    refusal = cli("ledger", dsns["ledger"], "rejections", "resubmit", "999", exit_code=1)
    assert "no rejection with id 999" in refusal
    cli("performance", dsns["performance"], "replay", "--fiscal-year", "2017", "--until", "soon",
        exit_code=2)  # fmt: skip
    actions = await fetch(dsns["reporting"], "SELECT * FROM ledger.operator_actions ORDER BY 1")
    assert [(a["action"], a["outcome"]) for a in actions] == [
        ("journal republish", "ok"),
        ("rejections resubmit", "failed"),
        ("performance replay", "failed"),
    ]
    republish, resubmit, replay = actions
    assert republish["actor"] == "ana"
    assert json.loads(republish["arguments"]) == {"from_position": 3}
    assert "after position 3" in republish["detail"]
    assert re.fullmatch(r".+@.+", resubmit["actor"]) and resubmit["actor"] != "ana"
    assert json.loads(resubmit["arguments"]) == {"rejection_id": 999, "file": None}
    assert resubmit["detail"] == "no rejection with id 999"
    assert replay["fiscal_year"] == 2017 and "neither a date" in replay["detail"]
    for action in actions:
        assert started <= action["started_at"] <= action["finished_at"]


async def test_the_services_run_under_their_roles(
    database: str, kafka: KafkaTarget, tmp_path: Path
) -> None:
    stack = Stack(database, kafka, tmp_path, least_privilege=True)
    try:
        await stack.start_all()
        offsets = await stack.publish(("budget", e) for e in demo.budget_events())
        status = await stack.settle(offsets, timeout=120)
        assert status["accepted"] > 100
        sessions = await fetch(
            database,
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()",
        )
        assert set(ROLES.values()) <= {s["usename"] for s in sessions}
        data = await stack.query(
            '{ lineEvaluation(lineId: "GD-CGJ-2017-ZHGD") { adjustedBudget } }'
        )
        assert data["lineEvaluation"]["adjustedBudget"] == "36890100.00"
        stack.ledger_cli("journal", "republish")  # the operator CLI under the ledger's role
    finally:
        stack.stop()
