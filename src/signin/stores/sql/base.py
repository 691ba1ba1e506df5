"""Shared plumbing for the SQL stores: connections, and database faults as `StoreUnavailable`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from signin.stores.base import StoreUnavailable
from signin.stores.sql.engine import write_engine

_UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    OSError,
    ConnectionError,
    TimeoutError,
)


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
        except sa.exc.IntegrityError:
            raise
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(str(exc).splitlines()[0]) from exc

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One short transaction; on SQLite it holds the write lock from its first statement."""
        try:
            async with self._writer.begin() as conn:
                yield conn
        except sa.exc.IntegrityError:
            raise
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(str(exc).splitlines()[0]) from exc
