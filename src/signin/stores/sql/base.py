"""Shared plumbing for the SQL stores: connections, and database faults as `StoreUnavailable`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from signin.stores.base import StoreUnavailable
from signin.stores.sql.engine import write_engine, write_turn
from signin.stores.sql.lite import SQLITE_BUSY_MS

_UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    OSError,
    ConnectionError,
    TimeoutError,
    sa.exc.TimeoutError,  # no pooled connection free in time: busy, not a bug (503, not 500)
)
# PostgreSQL SQLSTATE classes that mean "the server cannot serve now", not "bad statement":
# connection exceptions, insufficient resources, operator intervention (shutdown, restart),
# system errors; and 3D000, a database that does not exist (yet).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58")
_UNAVAILABLE_SQLSTATES = ("3D000",)


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa.exc.IntegrityError):
        return False
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        state = str(getattr(exc.orig, "sqlstate", None) or "")
        return state[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or state in _UNAVAILABLE_SQLSTATES
    return False


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._writer = write_engine(engine)
        self.dialect = engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(_first_line(exc)) from exc
            raise

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One short transaction; on SQLite it holds the write lock from its first statement,
        and the process's writers take their turns on `write_turn` (engine.py says why)."""
        turn = write_turn(self.engine) if self.dialect == "sqlite" else None
        if turn is not None:
            await _take(turn)
        try:
            async with self._writer.begin() as conn:
                yield conn
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(_first_line(exc)) from exc
            raise
        finally:
            if turn is not None:
                turn.release()


async def _take(turn: asyncio.Lock) -> None:
    """Wait for the turn as long as SQLite's busy timeout would have waited for the lock."""
    if not turn.locked():
        await turn.acquire()  # free: no waiting, no timer
        return
    try:
        await asyncio.wait_for(turn.acquire(), SQLITE_BUSY_MS / 1000)
    except TimeoutError:
        raise StoreUnavailable("database is locked (writers queued too long)") from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__
