"""One-statement writes on PostgreSQL on plain asyncpg connections (the OIDC refresh).

A refresh is one statement (stores/sql/oidc_hot.py). Through SQLAlchemy's async engine it is
a pool checkout with a pre-ping, BEGIN, the statement and COMMIT: four round trips, and most of
a refresh's CPU. `PgWrites` runs it on a connection of its own in autocommit, where a single
statement is its own transaction: one round trip. The connections are `PgReads`' kind (same
URL parameters, opened on first use, per event loop, ended with the engine) but writable, and
at most `size` of them per process.

Unlike a read, a write is never retried on the ordinary path after a fault: it may have been
applied before the connection broke. A fault is `StoreUnavailable` (503), as on SQLAlchemy's
path; the client asks again, and the store then tells what happened.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

from signin.stores.base import StoreUnavailable
from signin.stores.sql.pgread import PgReads


class PgWrites(PgReads):
    """`shared(engine)`: writable plain connections of a PostgreSQL engine, else None."""

    size = 2
    read_only = False

    async def fetch(self, sql: str, args: list[Any]) -> Any:
        """The statement's first row; a fault raises `StoreUnavailable` (see the module)."""
        try:
            return await self._row(sql, args)
        except Exception as exc:
            raise StoreUnavailable(f"PostgreSQL write failed: {type(exc).__name__}") from exc


class PgStatement:
    """One compiled statement run through the engine's `PgWrites`."""

    def __init__(self, writes: PgWrites, engine: AsyncEngine, statement: sa.ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=engine.dialect))
        self._writes = writes
        self._sql = str(compiled)
        self._params = list(compiled.positiontup or [])

    async def first(self, **params: Any) -> Any:
        return await self._writes.fetch(self._sql, [params[name] for name in self._params])
