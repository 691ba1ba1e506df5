"""Engine creation with the SQLite settings that keep concurrent writers from failing.

SQLite: WAL (readers never block the writer), `synchronous=FULL` (an acknowledged sign-up is on
disk), a 30 s busy timeout, foreign keys on. The driver's own transaction handling is switched off
so that SQLAlchemy's BEGIN is the one SQLite sees; write transactions that read first use
`write_engine()`, which begins with BEGIN IMMEDIATE and so never fails on a lock upgrade.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_MS = 30_000
PG_CONNECT_SECONDS = 5
PG_POOL_WAIT_SECONDS = 10


def create_engine(url: str, *, pool_size: int = 8) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False},
        )
        _sqlite_events(engine)
        return engine
    # PostgreSQL: fail within seconds when the server is unreachable (asyncpg waits 60 s by
    # default), so requests answer 503 promptly and /healthz stays inside its own timeout.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=PG_POOL_WAIT_SECONDS,
        connect_args={"timeout": PG_CONNECT_SECONDS},
    )


def _sqlite_events(engine: AsyncEngine) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        if connection.get_execution_options().get("signin_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def write_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, but transactions take SQLite's write lock up front."""
    return engine.execution_options(signin_write=True)


def is_unique_violation(exc: sa.exc.IntegrityError) -> str | None:
    """Which unique column an IntegrityError names, if any ("username_canon", "email_canon")."""
    text = str(exc.orig).lower()
    for column in ("username_canon", "email_canon"):
        if column in text:
            return column
    return None
