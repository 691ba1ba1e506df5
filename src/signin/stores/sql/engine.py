"""Engine creation with the SQLite settings that keep concurrent writers from failing.

SQLite: WAL (readers never block the writer), `synchronous=FULL` (an acknowledged sign-up is on
disk), a 30 s busy timeout, foreign keys on. The driver's own transaction handling is switched off
so that SQLAlchemy's BEGIN is the one SQLite sees; write transactions that read first use
`write_engine()`, which begins with BEGIN IMMEDIATE and so never fails on a lock upgrade.

SQLite lets one transaction write at a time. When several of a process's pooled connections
asked at once, the losers waited in SQLite's busy handler, which sleeps in growing steps (up to
100 ms each) and wakes in no order: with 8 concurrent writers the slowest waited 0.3-1 s while
the lock stood free most of the time. `write_turn()` queues a process's writers on one asyncio
lock instead, first come first served; the busy handler is left for other processes (the CLI,
a second server) and the point-write thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from signin.stores.sql.lite import SQLITE_BUSY_MS

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

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
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=PG_POOL_WAIT_SECONDS,
        connect_args={"timeout": PG_CONNECT_SECONDS},
    )
    sa.event.listen(engine.sync_engine, "handle_error", _discard_broken_connection)
    return engine


# asyncpg's words for a connection that can take no further statement. SQLAlchemy knows some of
# them as disconnects; the rest (a terminated backend's connection still mid-protocol, an
# operation cancelled half-way) left the connection in the pool, and the next request that drew
# it failed with "cannot switch to state ...; another operation is in progress".
_BROKEN = (
    "another operation is in progress",
    "cannot switch to state",
    "connection was closed",
    "connection is closed",
    "terminating connection",
    "underlying connection is closed",
)


def _discard_broken_connection(context: sa.engine.ExceptionContext) -> None:
    """Mark a connection that asyncpg calls broken as a disconnect: the pool drops it."""
    if context.is_disconnect:
        return
    text = str(context.original_exception).lower()
    if any(marker in text for marker in _BROKEN):
        context.is_disconnect = True


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


def checkpoint_on_exit(engine: AsyncEngine) -> None:
    """Fold a SQLite file's WAL back into it and truncate the WAL (blocking: run in a thread).

    Left alone, a clean shutdown could leave megabytes of `-wal` beside the database (the last
    connection checkpoints only when nothing else holds the file). Busy is fine: another
    process still serves, and the last one out does the same.
    """
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return
    import sqlite3

    with (
        contextlib.suppress(sqlite3.Error),
        contextlib.closing(sqlite3.connect(path, timeout=1, isolation_level=None)) as conn,
    ):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


_TURNS: weakref.WeakKeyDictionary[sa.Engine, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def write_turn(engine: AsyncEngine) -> asyncio.Lock:
    """The lock this process's SQLite writers on `engine` take in turn (one per event loop)."""
    loop = asyncio.get_running_loop()
    found = _TURNS.get(engine.sync_engine)
    if found is None or found[0] is not loop:
        found = _TURNS[engine.sync_engine] = (loop, asyncio.Lock())
    return found[1]


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


def upsert(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """`INSERT` that can say `ON CONFLICT ... DO UPDATE`, in the dialect's words.

    Each dialect's module is imported when its engine uses it: a SQLite deployment (and every
    CLI command on it) never loads PostgreSQL's.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def on_asyncpg(engine: AsyncEngine) -> bool:
    """PostgreSQL through asyncpg (the only PostgreSQL driver signin ships)."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"


class OnePerEngine:
    """`shared(engine)`: one instance per engine, made on first use and kept while the engine
    lives; None where the subclass's `usable(engine)` says it does not apply."""

    _by_engine: ClassVar[weakref.WeakKeyDictionary[sa.Engine, Any]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._by_engine = weakref.WeakKeyDictionary()

    def __init__(self, engine: AsyncEngine) -> None:
        pass

    @staticmethod
    def usable(engine: AsyncEngine) -> bool:
        raise NotImplementedError

    @classmethod
    def shared(cls, engine: AsyncEngine) -> Self | None:
        if not cls.usable(engine):
            return None
        found: Self | None = cls._by_engine.get(engine.sync_engine)
        if found is None:
            found = cls._by_engine[engine.sync_engine] = cls(engine)
        return found
