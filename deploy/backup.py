"""Backup and restore of the event store (schema ``ledger``): ``python -m deploy.backup``.

    python -m deploy.backup dump BACKUP_DIR      # DATABASE_URL: a DSN that may read schema ledger
    python -m deploy.backup restore BACKUP_DIR   # DATABASE_URL: the admin DSN of a fresh database

``dump`` writes, from one consistent snapshot of the database, ``ledger.dump`` (pg_dump,
custom format, the schema ``ledger`` only: the events, streams, rejections, held records,
relay cursors and the audit of operator actions), ``manifest.json`` (what it holds: counts,
the last position, the fiscal years, the ledger's migrations applied, where the ledger's
decisions end in each inbound partition, the dump's sha256) and ``ledger-offsets.csv``
(those ends as ``topic,partition,offset``: where the ledger's consumer group resumes after a
restore, for ``kafka-consumer-groups.sh --reset-offsets --from-file``). The projections are
not in it: they are rebuilt from the events.

``restore`` checks the dump against its manifest, refuses a database that has a schema
``ledger`` already (the event store is append-only, and a restore never merges into one),
runs pg_restore without the dump's owners and grants (roles are the target server's),
records the dump's ledger migrations as applied (the schema is theirs; later ones are
applied next), sets the restored rows' transaction ids (``tx``) to 0 (``forget_xids``),
provisions the database (deploy/provision.py: the roles, performance's
migrations, ownership and the grants, exactly as on a new database), checks the restored
store against the manifest, and moves the journal relay's cursor to the start: the new
database's projections are empty, and the relay publishes the whole journal again, in
order, before anything the ledger appends next (consumers skip the positions they applied).
What to do next (resume the ledger's group, start the services): README, "Operating it".

PG_BIN: the directory of pg_dump and pg_restore (default: those on the PATH); their major
version must be at least the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from yoyo import get_backend, read_migrations

import services.ledger
from deploy.provision import provision
from services.common.db import MIGRATION_TABLE, yoyo_dsn
from services.ledger.store.relay import TABLES, republish_after

SCHEMA = "ledger"
DUMP, MANIFEST, OFFSETS = "ledger.dump", "manifest.json", "ledger-offsets.csv"
LEDGER_MIGRATIONS = Path(services.ledger.__file__).with_name("migrations")
COUNTED = {  # manifest entry -> what it counts, compared after a restore
    "events": "SELECT count(*) FROM ledger.events",
    "last_position": "SELECT coalesce(max(position), 0) FROM ledger.events",
    "rejections": "SELECT count(*) FROM ledger.rejections",
    "held": "SELECT count(*) FROM ledger.pending",
    "operator_actions": "SELECT count(*) FROM ledger.operator_actions",
}
# Per inbound partition, the offset after the last record the ledger decided (accepted,
# rejected or held: it decides a partition's records in order). A duplicate leaves no row,
# so the end may be a little early: the records after it are judged again, and what the
# store has already is recognised.
DECIDED_ENDS = """
    SELECT source_topic AS topic, source_partition AS partition, max(source_offset) + 1 AS next
    FROM (SELECT source_topic, source_partition, source_offset FROM ledger.events
          UNION ALL SELECT source_topic, source_partition, source_offset FROM ledger.rejections
          UNION ALL SELECT source_topic, source_partition, source_offset FROM ledger.pending
    ) decided
    GROUP BY 1, 2 ORDER BY 1, 2"""


class BackupSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    database_url: str = Field(
        description="The database to dump, or the fresh one to restore into (DATABASE_URL)"
    )
    pg_bin: Path | None = Field(
        None, description="The directory of pg_dump and pg_restore (PG_BIN; default: the PATH)"
    )


def libpq(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN for a libpq command line without its password (which would show in the
    process list), and the environment that gives it (PGPASSWORD)."""
    parts = urlsplit(dsn)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    bare = urlunsplit(parts._replace(netloc=f"{user}{at}{hostport}"))
    return bare, ({"PGPASSWORD": unquote(password)} if password else {})


@dataclass(frozen=True)
class Database:
    """One database, and PostgreSQL's client programs (pg_dump, pg_restore) on it."""

    dsn: str
    pg_bin: Path | None = None  # their directory (default: the PATH)

    def program(self, name: str) -> str:
        found = str(self.pg_bin / name) if self.pg_bin else shutil.which(name)
        if not found or not Path(found).is_file():
            raise RuntimeError(f"{name} not found: put it on the PATH or set PG_BIN")
        return found

    def run(self, name: str, *arguments: str) -> None:
        """A client program on the database; its own message if it fails."""
        bare, secret = libpq(self.dsn)
        done = subprocess.run(
            [self.program(name), *arguments, f"--dbname={bare}"],
            env={**os.environ, **secret},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed: {done.stderr.strip()}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


async def facts(conn: asyncpg.Connection) -> dict[str, Any]:
    """What the event store holds: the counts of COUNTED, its fiscal years, the ends of the
    decided records (DECIDED_ENDS), and the ledger's migrations yoyo lists as applied."""
    found: dict[str, Any] = {name: int(await conn.fetchval(sql)) for name, sql in COUNTED.items()}
    years = await conn.fetch("SELECT DISTINCT fiscal_year FROM ledger.events ORDER BY 1")
    found["resume_offsets"] = [list(row.values()) for row in await conn.fetch(DECIDED_ENDS)]
    migrations: list[str] = []
    if await conn.fetchval("SELECT to_regclass($1)", MIGRATION_TABLE) is not None:
        rows = await conn.fetch(  # the ledger's are named NNNN.ledger-<what>
            f"SELECT migration_id FROM {MIGRATION_TABLE} WHERE migration_id LIKE '%.ledger-%' "
            "ORDER BY 1"
        )
        migrations = [row["migration_id"] for row in rows]
    return {**found, "fiscal_years": [r["fiscal_year"] for r in years],
            "ledger_migrations": migrations}  # fmt: skip


async def dump(database: Database, directory: Path) -> dict[str, Any]:
    """The event store into ``directory`` (created; never over an earlier backup): the dump
    and its manifest, both of one snapshot. Returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / DUMP
    if target.exists() or (directory / MANIFEST).exists():
        raise RuntimeError(f"{directory} holds a backup already: give a new directory")
    conn = await asyncpg.connect(database.dsn)
    try:
        if await conn.fetchval("SELECT to_regnamespace($1)", SCHEMA) is None:
            raise RuntimeError(f"no schema {SCHEMA} in this database: nothing to back up")
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            # pg_dump reads exactly what this transaction sees, while it stays open; the
            # transaction's start is the backup's time (what was recorded by then is in it)
            snapshot, at = await conn.fetchrow("SELECT pg_export_snapshot(), now()")
            found = await facts(conn)
            arguments = ("--format=custom", f"--schema={SCHEMA}", f"--snapshot={snapshot}")
            try:
                await asyncio.to_thread(database.run, "pg_dump", *arguments, f"--file={target}")
            except BaseException:
                target.unlink(missing_ok=True)  # no half a backup
                raise
        name = await conn.fetchval("SELECT current_database()")
        server = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    taken_at = at.astimezone(UTC).isoformat(timespec="seconds")
    manifest: dict[str, Any] = {"format": 1, "taken_at": taken_at, "database": name,
                                "server_version": server, "schema": SCHEMA, **found,
                                "dump": DUMP, "sha256": sha256(target)}  # fmt: skip
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    ends = "".join(f"{topic},{partition},{offset}\n" for topic, partition, offset in
                   manifest["resume_offsets"])  # fmt: skip
    (directory / OFFSETS).write_text(ends, "utf-8")
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    """The backup's manifest, its dump checked against it."""
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text("utf-8"))
    if manifest.get("format") != 1 or manifest.get("schema") != SCHEMA:
        raise RuntimeError(f"{directory / MANIFEST}: not a backup of this program")
    if sha256(directory / DUMP) != manifest["sha256"]:
        raise RuntimeError(f"{directory / DUMP} does not match its manifest's sha256")
    known = {m.id for m in read_migrations(str(LEDGER_MIGRATIONS))}
    if newer := [m for m in manifest["ledger_migrations"] if m not in known]:
        raise RuntimeError(
            f"the backup's schema has migrations this release does not know ({', '.join(newer)}):"
            " restore it with the release that took it"
        )
    return manifest


def mark_applied(dsn: str, ids: list[str]) -> None:
    """The ledger's migrations ``ids`` recorded as applied in yoyo's table, without running
    them: the restored schema is what they made."""
    chosen = [m for m in read_migrations(str(LEDGER_MIGRATIONS)) if m.id in ids]
    with get_backend(yoyo_dsn(dsn), migration_table=MIGRATION_TABLE) as backend:
        backend.mark_migrations(chosen)


async def forget_xids(conn: asyncpg.Connection) -> None:
    """The restored rows' ``tx`` (the xid of the transaction that stored each, which the relays
    follow) set to 0, and the relay cursors with them. Those xids are the backed-up server's:
    on another server they may be ahead of its own, and the relays would wait for them and
    publish what is appended next first. At 0 the restored rows come before anything appended
    here, in position order (within a department, the order they were appended in). A cursor
    goes to the row before the first one it had not published (in position order, a few
    published ones come again: consumers skip them). Run as the tables' owner (pg_restore
    --no-owner: the restoring role), before the provisioning hands them over."""
    kept = """SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'ledger.events'::regclass
                                AND attname = 'tx' AND NOT attisdropped)"""
    if not await conn.fetchval(kept):
        return  # a backup from before they were kept: the migration gives every row 0
    async with conn.transaction():
        for name, (table, column) in TABLES.items():
            await conn.execute(
                f"""UPDATE ledger.relay_cursors c SET tx = '0', position = coalesce(
                        (SELECT min(r.{column}) - 1 FROM {table} r
                         WHERE (r.tx, r.{column}) > (c.tx, c.position)),
                        (SELECT coalesce(max({column}), 0) FROM {table}))
                    WHERE c.name = $1""",
                name,
            )
        # the append-only trigger refuses this UPDATE even to the owner, who may disable it
        await conn.execute("ALTER TABLE ledger.events DISABLE TRIGGER events_append_only")
        await conn.execute("UPDATE ledger.events SET tx = '0' WHERE tx <> '0'")
        await conn.execute("ALTER TABLE ledger.events ENABLE TRIGGER events_append_only")
        await conn.execute("UPDATE ledger.rejections SET tx = '0' WHERE tx <> '0'")


async def restore(database: Database, directory: Path) -> dict[str, Any]:
    """The backup in ``directory`` into the (fresh) database, provisioned; the backup's
    manifest."""
    manifest = read_manifest(directory)
    dsn = database.dsn
    conn = await asyncpg.connect(dsn)
    try:
        if await conn.fetchval("SELECT to_regnamespace($1)", SCHEMA) is not None:
            raise RuntimeError(
                f"this database has a schema {SCHEMA} already: restore into a fresh database"
            )
        arguments = ("--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error")
        await asyncio.to_thread(database.run, "pg_restore", *arguments, str(directory / DUMP))
        await asyncio.to_thread(mark_applied, dsn, manifest["ledger_migrations"])
        await forget_xids(conn)
        await provision(dsn)
        restored = await facts(conn)
        wanted = {k: manifest[k] for k in restored}
        if restored != wanted:
            raise RuntimeError(f"the restored event store differs: {restored} != {wanted}")
        sequence = await conn.fetchval("SELECT pg_get_serial_sequence('ledger.events', 'position')")
        if int(await conn.fetchval(f"SELECT last_value FROM {sequence}")) < wanted["last_position"]:
            raise RuntimeError(f"{sequence} is behind the restored events")
        await republish_after(conn, "journal", 0)
    finally:
        await conn.close()
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["dump", "restore"])
    parser.add_argument("directory", type=Path, help="the backup's directory")
    options = parser.parse_args()
    try:
        settings = BackupSettings()
    except ValidationError:
        sys.exit("DATABASE_URL: the database to dump, or the fresh one to restore into")
    command = dump if options.command == "dump" else restore
    try:
        database = Database(settings.database_url, settings.pg_bin)
        manifest = asyncio.run(command(database, options.directory))
    except RuntimeError as error:
        sys.exit(str(error))
    done = "dumped into" if options.command == "dump" else "restored from"
    print(f"{done} {options.directory}: {manifest['events']:,} events (last position "
          f"{manifest['last_position']}), {manifest['rejections']:,} rejections, "
          f"{manifest['held']:,} held, {manifest['operator_actions']:,} operator actions; "
          f"fiscal years {', '.join(map(str, manifest['fiscal_years'])) or 'none'}")  # fmt: skip
    if options.command == "restore":
        print(f"the journal will be published again from position 1. Next (README, Operating "
              f"it): resume the ledger's consumer group from {options.directory / OFFSETS}, "
              "then start the services on this database")  # fmt: skip


if __name__ == "__main__":
    main()
