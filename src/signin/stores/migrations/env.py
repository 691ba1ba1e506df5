"""Alembic environment: runs the migrations over the async engine the service uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, text

from signin.stores.sql.engine import create_engine, write_engine
from signin.stores.sql.schema import metadata

config = context.config
# Any fixed number: the key of the PostgreSQL advisory lock that serialises migrations.
MIGRATION_LOCK_ID = 0x5167_1E01


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several instances starting at once: the others wait here until the first has
            # committed, then read the new version and find nothing to do. The lock ends with
            # the transaction, also when a process dies half-way.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        migration = context.get_context()
        config.attributes["before"] = migration.get_current_revision()
        context.run_migrations()
        config.attributes["after"] = migration.get_current_revision()


async def _main() -> None:
    engine = create_engine(config.attributes["url"], pool_size=1)
    try:
        # On SQLite the transaction begins IMMEDIATE: the write lock, taken before the version
        # is read, plays the part of the advisory lock. It is begun here, before Alembic is
        # configured, so that Alembic sees an outer transaction and runs every pending revision
        # in it: on SQLite (no transactional DDL in Alembic's eyes) it would otherwise commit
        # after each revision, and a second process waiting for the lock would get it between
        # two revisions, read the half-way version and run the next revision a second time.
        async with write_engine(engine).begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("signin migrations run online only: use `signin db upgrade`")
asyncio.run(_main())
