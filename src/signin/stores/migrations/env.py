"""Alembic environment: runs the migrations over the async engine the service uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from signin.stores.sql.engine import create_engine
from signin.stores.sql.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_engine(config.attributes["url"], pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("signin migrations run online only: use `signin db upgrade`")
asyncio.run(_main())
