"""``python -m deploy.provision``: the database's roles, schema and privileges (least privilege).

Run with a DSN that owns the database (DATABASE_URL: the embedded superuser of ``make run``,
or one an operator gives; it needs CREATEROLE too). It prints each service's DSN. Safe to run
again, and concurrently (roles are cluster-wide: many databases of one server share them):

- roles: ``ledger_service``, ``performance_service``, ``reporting_service`` (LOGIN; password
  from LEDGER_DB_PASSWORD, PERFORMANCE_DB_PASSWORD, REPORTING_DB_PASSWORD when set) and
  ``ledger_owner`` (NOLOGIN), which owns the ledger's schema, so that no role that runs owns
  the event store;
- the ledger's and performance's migrations, applied with the admin DSN;
- ownership and privileges (``GRANTS``): the ledger may append to ``ledger.events`` and read
  it, never change or remove a row (the table's triggers refuse it even to its owner);
  performance owns its projections (and creates the schemas a replay rebuilds into) and reads
  the event store; reporting reads, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg

import services.ledger
import services.performance
from services.common.audit import TABLE as AUDIT_TABLE
from services.common.db import MIGRATION_TABLE, migrate

log = logging.getLogger("deploy.provision")

OWNER = "ledger_owner"  # NOLOGIN: owns schema ledger, its tables, sequences and functions
ROLES = {  # service -> its LOGIN role
    "ledger": "ledger_service",
    "performance": "performance_service",
    "reporting": "reporting_service",
}
PASSWORD_VARIABLES = {
    "ledger": "LEDGER_DB_PASSWORD",
    "performance": "PERFORMANCE_DB_PASSWORD",
    "reporting": "REPORTING_DB_PASSWORD",
}
MIGRATIONS = [
    Path(services.ledger.__file__).with_name("migrations"),
    Path(services.performance.__file__).with_name("migrations"),
]
LIVE = "performance"  # the projections' schema (services.common.projections.LIVE)

# role -> table -> privileges, on the ledger's tables (exactly these: anything else granted
# before is revoked). Nobody gets UPDATE, DELETE or TRUNCATE on ledger.events.
GRANTS: dict[str, dict[str, str]] = {
    "ledger_service": {
        "ledger.events": "SELECT, INSERT",
        "ledger.streams": "SELECT, INSERT, UPDATE",
        "ledger.rejections": "SELECT, INSERT, UPDATE",
        "ledger.pending": "SELECT, INSERT, DELETE",
        "ledger.relay_cursors": "SELECT, UPDATE",
        AUDIT_TABLE: "INSERT",
    },
    "performance_service": {"ledger.events": "SELECT", AUDIT_TABLE: "INSERT"},
    "reporting_service": {
        "ledger.events": "SELECT",
        "ledger.rejections": "SELECT",
        AUDIT_TABLE: "SELECT",
    },
}
# a concurrent provisioning of another database altering the same role (shared catalogs)
RETRIED = (asyncpg.UniqueViolationError, asyncpg.InternalServerError)


def role_dsn(admin_dsn: str, role: str, password: str | None = None) -> str:
    """The admin DSN with its user (and password) replaced; host, database and the other
    query parameters (``?host=/socket/dir``) kept."""
    parts = urlsplit(admin_dsn)
    hostport = parts.netloc.rpartition("@")[2]
    user = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    query, given = parts.query, parse_qsl(parts.query, keep_blank_values=True)
    if any(k in ("user", "password") for k, _ in given):  # libpq's spelling of the user
        query = urlencode([(k, v) for k, v in given if k not in ("user", "password")], safe="/")
    return urlunsplit(parts._replace(netloc=f"{user}@{hostport}", query=query))


def _passwords(given: dict[str, str | None] | None) -> dict[str, str | None]:
    if given is None:
        given = {s: os.environ.get(variable) for s, variable in PASSWORD_VARIABLES.items()}
    return {s: given.get(s) or given.get(role) or None for s, role in ROLES.items()}


async def _retrying(conn: asyncpg.Connection, sql: str) -> None:
    """A statement on a shared catalog (roles, memberships), retried when a concurrent
    provisioning changed the same row."""
    for attempt in range(20):
        try:
            await conn.execute(sql)
            return
        except RETRIED as error:
            if attempt == 19 or (
                isinstance(error, asyncpg.InternalServerError) and "concurrently" not in str(error)
            ):
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


async def create_role(
    conn: asyncpg.Connection, role: str, login: bool, password: str | None
) -> None:
    """The role, created if missing (a concurrent creator is fine); its password set if given."""
    kind = "LOGIN" if login else "NOLOGIN"
    try:
        await conn.execute(f"CREATE ROLE {role} {kind}")
    except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
        pass  # exists (created by another provisioning, maybe just now)
    can_login = await conn.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role)
    if can_login != login:
        await _retrying(conn, f"ALTER ROLE {role} {kind}")
    if password is not None:
        sql = await conn.fetchval(
            "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password
        )
        await _retrying(conn, sql)


async def _be_able_to_act_as(conn: asyncpg.Connection, roles: list[str]) -> None:
    """A database owner that is not a superuser becomes a member of the roles it hands
    objects to (ALTER ... OWNER TO, ALTER DEFAULT PRIVILEGES FOR ROLE need it)."""
    if await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        return
    # PostgreSQL 16 on: the creator of a role administers it, but may SET ROLE to it only
    # once granted it
    version = int(await conn.fetchval("SHOW server_version_num"))
    able = "SET" if version >= 160000 else "MEMBER"
    for role in roles:
        if not await conn.fetchval("SELECT pg_has_role(current_user, $1, $2)", role, able):
            await _retrying(conn, f"GRANT {role} TO CURRENT_USER")


async def _own(conn: asyncpg.Connection, schema: str, owner: str) -> None:
    """The schema, its tables, views, sequences and functions owned by ``owner``."""
    await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {owner}")
    objects = await conn.fetch(
        """
        SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                              WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind,
               format('%I.%I', n.nspname, c.relname) AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND NOT (c.relkind = 'S' AND EXISTS (  -- a serial's sequence follows its table
              SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
        UNION ALL
        SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
               p.oid::regprocedure::text
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
        """,
        schema,
    )
    for row in objects:
        await conn.execute(f"ALTER {row['kind']} {row['name']} OWNER TO {owner}")


async def _grant(conn: asyncpg.Connection) -> None:
    """Ownership and privileges of the migrated database, exactly (one transaction)."""
    database = await conn.fetchval("SELECT quote_ident(current_database())")
    services = ", ".join(ROLES.values())
    await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {services}")
    # performance creates the schemas a replay rebuilds into; ledger_owner, which nobody
    # logs in as, needs it to own a schema (checked when the admin is not a superuser)
    await conn.execute(f"GRANT CREATE ON DATABASE {database} TO performance_service, {OWNER}")
    await conn.execute(f"GRANT USAGE ON SCHEMA public TO {services}")
    await conn.execute(f"GRANT SELECT ON {MIGRATION_TABLE} TO {services}")
    if await conn.fetchval(  # before PostgreSQL 15 anyone could create tables in public
        "SELECT has_schema_privilege('public', 'public', 'CREATE')"
    ):
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")

    await _own(conn, "ledger", OWNER)
    await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA ledger FROM PUBLIC, {services}")
    await conn.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA ledger FROM PUBLIC, {services}")
    await conn.execute(f"GRANT USAGE ON SCHEMA ledger TO {services}")
    for role, tables in GRANTS.items():
        for table, privileges in tables.items():
            await conn.execute(f"GRANT {privileges} ON {table} TO {role}")
    writers = "ledger_service, performance_service"
    await conn.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA ledger TO ledger_service")
    await conn.execute(f"GRANT USAGE ON SEQUENCE {AUDIT_TABLE}_action_id_seq TO {writers}")

    # performance owns its projections, and the schemas its replays left (shadows, snapshots)
    schemas = await conn.fetch(
        "SELECT quote_ident(nspname) AS name FROM pg_namespace WHERE nspname = $1 "
        "OR nspname LIKE $1 || '\\_%' ORDER BY nspname",
        LIVE,
    )
    for schema in (row["name"] for row in schemas):
        await _own(conn, schema, "performance_service")
        others = "PUBLIC, ledger_service, reporting_service"  # not the owner's own
        await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {others}")
        await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO reporting_service")
        await conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO reporting_service")
    # what a replay creates stays readable by reporting
    for grant in ("SELECT ON TABLES", "USAGE ON SCHEMAS"):
        await conn.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE performance_service GRANT {grant} "
            "TO reporting_service"
        )


async def provision(
    admin_dsn: str, passwords: dict[str, str | None] | None = None
) -> dict[str, str]:
    """Roles, migrations, ownership and privileges; each service's DSN (``ledger``,
    ``performance``, ``reporting``). ``passwords`` by service (default: the *_DB_PASSWORD
    environment variables); a role without one keeps the password it has (if any)."""
    secrets = _passwords(passwords)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await create_role(conn, OWNER, False, None)
        for service, role in ROLES.items():
            await create_role(conn, role, True, secrets[service])
        await _be_able_to_act_as(conn, [OWNER, "performance_service"])
        for folder in MIGRATIONS:
            await migrate(admin_dsn, folder)
        async with conn.transaction():
            # one provisioning of this database at a time (ownership and grants rewrite the
            # same catalog rows)
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('provision'))")
            await _grant(conn)
    finally:
        await conn.close()
    return {s: role_dsn(admin_dsn, role, secrets[s]) for s, role in ROLES.items()}


def _shown(dsn: str) -> str:
    parts = urlsplit(dsn)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    hidden = f"{user}{':***' if password else ''}{at}{hostport}"
    return urlunsplit(parts._replace(netloc=hidden))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s provision %(message)s")
    admin = os.environ.get("DATABASE_URL")
    if not admin:
        sys.exit("DATABASE_URL: a DSN that owns the database (and may create roles)")
    dsns = asyncio.run(provision(admin))
    for service, dsn in dsns.items():
        print(f"{service}: {_shown(dsn)}")


if __name__ == "__main__":
    main()
