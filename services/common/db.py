"""PostgreSQL helpers shared by the services (asyncpg)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg


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


async def migrate(pool: asyncpg.Pool, schema_file: Path) -> None:
    """Apply a service's idempotent DDL; the advisory lock keeps concurrent starters apart."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('migrate'))")
        await conn.execute(schema_file.read_text("utf-8"))
