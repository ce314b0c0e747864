"""Versioned migrations (yoyo): a database created by release 0.1 is upgraded in place.

tests/fixtures/release-0.1/ledger.sql and performance.sql are, verbatim, the services'
schema.sql of release 0.1: the idempotent DDL that release ran at every start, with no
version table. A database it created has the tables and rows but no yoyo bookkeeping.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from deploy.provision import provision
from services.common.db import MIGRATION_TABLE, migrate, yoyo_dsn
from services.common.projections import DEADLINE_COUNTS
from tests.conftest import create_database
from tests.integration.conftest import LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS

pytestmark = pytest.mark.integration

RELEASE_0_1 = Path(__file__).parents[1] / "fixtures" / "release-0.1"
FOLDERS = (LEDGER_MIGRATIONS, PERFORMANCE_MIGRATIONS)

# A few rows as release 0.1 wrote them (its columns added by ALTER included).
OLD_ROWS = """
INSERT INTO ledger.events (event_id, content_hash, stream_id, stream_version, event_type,
    department, fiscal_year, occurred_at, payload, context, source_topic, source_partition,
    source_offset)
VALUES ('ev-1', '\\x01', 'line:D01-2024-001', 1, 'BudgetLineOpened', 'D01', 2024,
    '2024-01-02T09:00:00+08', '{"line_id": "D01-2024-001"}', '{"actor": "u1"}',
    'budget.events', 0, 7);
INSERT INTO ledger.streams VALUES ('line:D01-2024-001', 1, '{"opened": true}');
INSERT INTO ledger.rejections (source_topic, source_partition, source_offset, raw, raw_sha256,
    reason, field, message, event_id, department, resubmitted_event_id, resubmitted_at)
VALUES ('budget.events', 0, 8, '\\x7b7d', '\\x02', 'invalid', 'amount', 'not a number',
    'ev-2', 'D01', 'ev-2-fixed', '2024-01-03T10:00:00+08');
UPDATE ledger.relay_cursors SET position = 1 WHERE name = 'journal';
INSERT INTO performance.applied_positions VALUES ('D01', 1);
INSERT INTO performance.cases (department, case_id, channel, category, kind, advance_disposal,
    reported_at, fiscal_year)
VALUES ('D01', 'C-1', 'hotline', 'roads', 'complaint', false, '2024-01-02T09:30:00+08', 2024);
INSERT INTO performance.line_daily (line_id, day, initial_budget, spent)
VALUES ('D01-2024-001', '2024-01-02', 1000000.25, 12.5);
INSERT INTO performance.case_daily (department, fiscal_year, dimension, value, day, reported,
    closed_on_time)
VALUES ('D01', 2024, 'kind', 'complaint', '2024-01-02', 1, 0);
"""

TABLES = (
    "ledger.events",
    "ledger.streams",
    "ledger.rejections",
    "ledger.relay_cursors",
    "performance.applied_positions",
    "performance.cases",
    "performance.line_daily",
    "performance.case_daily",
)


async def fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


Rows = dict[str, list[dict[str, Any]]]


async def rows(dsn: str) -> Rows:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            table: [dict(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]
            for table in TABLES
        }
    finally:
        await conn.close()


def as_before(now: Rows, before: Rows) -> Rows:
    """The rows without the columns later migrations added (the deadline deltas of
    case_daily, which must be 0 here: release 0.1 kept no deadlines)."""
    added = [row[c] for row in now["performance.case_daily"] for c in DEADLINE_COUNTS]
    assert added and set(added) == {0}
    return {table: [{c: row[c] for c in before[table][0]} for row in now[table]] for table in now}


async def structure(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """The services' columns, indexes and constraints, as the catalog describes them."""
    schemas = "('ledger', 'performance')"
    columns = await fetch(
        dsn,
        f"""SELECT table_schema, table_name, ordinal_position, column_name, data_type,
                   is_nullable, column_default
            FROM information_schema.columns WHERE table_schema IN {schemas}
            ORDER BY 1, 2, 3""",
    )
    indexes = await fetch(
        dsn,
        f"SELECT schemaname, indexname, indexdef FROM pg_indexes "
        f"WHERE schemaname IN {schemas} ORDER BY 1, 2",
    )
    constraints = await fetch(
        dsn,
        f"""SELECT n.nspname, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname IN {schemas} ORDER BY 1, 2""",
    )
    return {
        "columns": [tuple(r) for r in columns],
        "indexes": [tuple(r) for r in indexes],
        "constraints": [tuple(r) for r in constraints],
    }


def migration_ids(*folders: Path) -> list[str]:
    return sorted(
        p.stem for folder in folders for p in folder.glob("*.sql") if ".rollback" not in p.name
    )


async def applied(dsn: str) -> list[tuple[str, Any]]:
    return [
        (r["migration_id"], r["applied_at_utc"])
        for r in await fetch(
            dsn, f"SELECT migration_id, applied_at_utc FROM {MIGRATION_TABLE} ORDER BY 1"
        )
    ]


async def create_release_0_1_database(dsn: str) -> None:
    """What release 0.1 left: its DDL run at each of several starts, then some data."""
    conn = await asyncpg.connect(dsn)
    try:
        for _start in range(2):
            for service in ("ledger", "performance"):
                await conn.execute((RELEASE_0_1 / f"{service}.sql").read_text("utf-8"))
        await conn.execute(OLD_ROWS)
    finally:
        await conn.close()


async def test_a_release_0_1_database_is_upgraded_in_place(database: str, pg_dsn: str) -> None:
    await create_release_0_1_database(database)
    before = await rows(database)
    assert all(before.values()), "every table has its rows"

    for folder in FOLDERS:
        await migrate(database, folder)

    assert as_before(await rows(database), before) == before
    versions = await applied(database)
    assert [migration for migration, _ in versions] == migration_ids(*FOLDERS)
    logged = await fetch(database, "SELECT count(*) AS n FROM _yoyo_log")

    for folder in FOLDERS:  # a second start: nothing to do
        await migrate(database, folder)
    assert await applied(database) == versions
    assert await fetch(database, "SELECT count(*) AS n FROM _yoyo_log") == logged
    assert as_before(await rows(database), before) == before

    fresh = await create_database(pg_dsn)
    for folder in FOLDERS:
        await migrate(fresh, folder)
    assert await structure(fresh) == await structure(database)
    assert [m for m, _ in await applied(fresh)] == [m for m, _ in versions]


async def test_a_release_0_1_database_is_provisioned_in_place(database: str) -> None:
    """The roles, privileges and append-only guard of this release on an old database."""
    await create_release_0_1_database(database)
    before = await rows(database)
    dsns = await provision(database)
    assert as_before(await rows(database), before) == before
    for service, folder in zip(("ledger", "performance"), FOLDERS, strict=True):
        await migrate(dsns[service], folder)  # the services start under their roles
    ledger = await asyncpg.connect(dsns["ledger"])
    admin = await asyncpg.connect(database)
    try:
        assert await ledger.fetchval("SELECT count(*) FROM ledger.events") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await ledger.execute("DELETE FROM ledger.events")
        with pytest.raises(asyncpg.RaiseError, match="the event store is append-only"):
            await admin.execute("UPDATE ledger.events SET fiscal_year = 2025")
    finally:
        await admin.close()
        await ledger.close()
    assert as_before(await rows(database), before) == before


async def test_each_service_applies_only_its_own_migrations(database: str) -> None:
    await migrate(database, PERFORMANCE_MIGRATIONS)
    assert [m for m, _ in await applied(database)] == migration_ids(PERFORMANCE_MIGRATIONS)
    schemas = await fetch(
        database, "SELECT nspname FROM pg_namespace WHERE nspname IN ('ledger', 'performance')"
    )
    assert [r["nspname"] for r in schemas] == ["performance"]

    await migrate(database, LEDGER_MIGRATIONS)
    assert [m for m, _ in await applied(database)] == migration_ids(*FOLDERS)


async def test_concurrent_migrations_of_a_fresh_database_all_succeed(database: str) -> None:
    await asyncio.gather(*(migrate(database, folder) for folder in FOLDERS * 3))
    assert [m for m, _ in await applied(database)] == migration_ids(*FOLDERS)
    tables = await rows(database)  # all there, the relay cursors inserted once
    assert [tuple(r.values()) for r in tables["ledger.relay_cursors"]] == [
        ("journal", 0, 0),  # name, position, tx
        ("rejected", 0, 0),
    ]


async def test_a_missing_migrations_folder_is_an_error(database: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await migrate(database, tmp_path / "migrations")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            "postgresql://postgres:@/postgres?host=/tmp/pg/socket",
            "postgresql+psycopg://postgres:@/postgres?host=%2Ftmp%2Fpg%2Fsocket",
        ),
        (
            "postgres://user:p%40ss@db.example:5433/ledger?sslmode=require",
            "postgresql+psycopg://user:p%40ss@db.example:5433/ledger?sslmode=require",
        ),
        (
            "postgresql://user@%2Fvar%2Frun%2Fpostgresql/ledger",
            "postgresql+psycopg://user@/ledger?host=%2Fvar%2Frun%2Fpostgresql",
        ),
    ],
)
def test_dsns_are_given_to_yoyo_as_psycopg_uris(dsn: str, expected: str) -> None:
    assert yoyo_dsn(dsn) == expected


def test_a_dsn_of_another_database_is_refused() -> None:
    with pytest.raises(ValueError):
        yoyo_dsn("mysql://user@host/db")
