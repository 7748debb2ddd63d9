"""PostgreSQL access: a pool per service bound to the service's own schema, and versioned SQL
migrations applied at start-up. Every service owns one schema; no service reads another's tables.

Migrations: `<package>/migrations/NNNN_name.sql`, applied in order, each once, recorded with a
checksum in `<schema>.schema_migrations`. The messaging tables (inbox, outbox) come first, from
`shared/platform/migrations`, in every schema.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
from importlib import resources

import asyncpg

from shared.platform.logging import get_logger

log = get_logger(__name__)
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


MESSAGING_MIGRATIONS = "shared.platform"  # inbox and outbox, in every schema


def _migrations(package: str) -> list[tuple[str, str]]:
    folder = resources.files(package) / "migrations"
    found = [
        (p.name, p.read_text("utf-8")) for p in folder.iterdir() if _MIGRATION_FILE.match(p.name)
    ]
    return sorted(found)


async def migrate(conn: asyncpg.Connection, schema: str, package: str) -> list[str]:
    """Creates `schema`, applies the pending shared and package migrations, returns their names."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    applied: list[str] = []
    async with conn.transaction():
        # concurrent start-ups of the same service wait here instead of racing
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    name text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {
            r["name"]: r["checksum"]
            for r in await conn.fetch(f"SELECT name, checksum FROM {schema}.schema_migrations")
        }
        await conn.execute(f"SET LOCAL search_path TO {schema}")
        # the platform's migrations keep the name they were first recorded under
        for origin, label in ((MESSAGING_MIGRATIONS, "shared"), (package, package)):
            for filename, sql in _migrations(origin):
                name = f"{label}/{filename}"
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if name in done:
                    if done[name] != checksum:
                        raise RuntimeError(f"migration {name} changed after it was applied")
                    continue
                await conn.execute(sql)
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (name, checksum) VALUES ($1, $2)",
                    name,
                    checksum,
                )
                applied.append(name)
    if applied:
        log.info("migrations applied", schema=schema, migrations=applied)
    return applied


async def create_pool(dsn: str, schema: str, package: str, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections work in `schema`, after migrating it."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn, schema, package)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        server_settings={"search_path": schema},
        reset=_reset,
    )
    assert pool is not None
    return pool


async def _reset(conn: asyncpg.Connection) -> None:
    """A connection goes back to the pool without a round trip: the services keep no session
    state (their locks and settings are transaction-scoped, the search path is the
    connection's own), so only a transaction left open is rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


# ----------------------------------------------------------------------------- stack helpers


async def _ping(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    await conn.fetchval("SELECT 1")
    await conn.close()


async def _create_database(admin_dsn: str, name: str, recreate: bool) -> None:
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"invalid database name {name!r}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and recreate:
            await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
            exists = False
        if not exists:
            await conn.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await conn.close()


def main(argv: list[str]) -> int:
    """`python -m shared.platform.db ping DSN` | `create-database ADMIN_DSN NAME [--recreate]`"""
    if len(argv) >= 2 and argv[0] == "ping":
        try:
            asyncio.run(_ping(argv[1]))
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            print(f"no answer: {exc}", file=sys.stderr)
            return 1
        return 0
    if len(argv) >= 3 and argv[0] == "create-database":
        asyncio.run(_create_database(argv[1], argv[2], "--recreate" in argv[3:]))
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
