"""The projection tables the performance service's migrations create are exactly those
declared in services/common/projections.py (names, columns, types, nullability, primary
keys), and so are a replay's shadow tables, made from the declarations: the declarations,
the migrations and the shadows cannot drift apart."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from services.common.projections import LIVE, TABLES
from services.performance.replay.swap import create_shadow
from tests.integration.conftest import PERFORMANCE_MIGRATIONS, migrated_pool

pytestmark = pytest.mark.integration

Described = dict[str, dict[str, Any]]  # table -> {"columns": {name: (type, nullable)}, "key"}


async def described(conn: asyncpg.Connection, schema: str) -> Described:
    """The tables of a schema as PostgreSQL describes them (information_schema)."""
    tables: Described = {
        r["table_name"]: {"columns": {}, "key": ()}
        for r in await conn.fetch(
            """SELECT table_name FROM information_schema.tables
               WHERE table_schema = $1 AND table_type = 'BASE TABLE'""",
            schema,
        )
    }
    for r in await conn.fetch(
        """SELECT table_name, column_name, data_type, is_nullable
           FROM information_schema.columns WHERE table_schema = $1""",
        schema,
    ):
        nullable = r["is_nullable"] == "YES"
        tables[r["table_name"]]["columns"][r["column_name"]] = (r["data_type"], nullable)
    for r in await conn.fetch(
        """SELECT k.table_name, array_agg(k.column_name::text ORDER BY k.ordinal_position) AS key
           FROM information_schema.table_constraints c
           JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
           WHERE c.table_schema = $1 AND c.constraint_type = 'PRIMARY KEY'
           GROUP BY k.table_name""",
        schema,
    ):
        tables[r["table_name"]]["key"] = tuple(r["key"])
    return tables


def declared() -> Described:
    return {
        table.name: {
            "columns": {c.name: (c.sql_type, c.nullable) for c in table.columns},
            "key": table.key_names,
        }
        for table in TABLES
    }


async def test_the_migrated_tables_are_the_declared_ones(database: str) -> None:
    async with migrated_pool(database, PERFORMANCE_MIGRATIONS) as pool, pool.acquire() as conn:
        live = await described(conn, LIVE)
        assert live == declared()
        await create_shadow(conn, "performance_shadow_test")
        assert await described(conn, "performance_shadow_test") == live
