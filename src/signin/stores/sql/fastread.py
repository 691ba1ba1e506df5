"""Point lookups on SQLite without the async driver's thread round trips.

Through SQLAlchemy's async engine, every statement on aiosqlite hops to the connection's thread
and back several times (pool checkout, BEGIN, SELECT, fetch, ROLLBACK): about 0.6 ms of CPU
for a lookup that SQLite itself answers in a few microseconds. On the session check, the
hottest path of the service, that was most of the request's cost (bench/RESULTS.md, W1).

`FastReader` keeps one plain `sqlite3` connection, query-only and in autocommit mode, and runs
one compiled SELECT on it directly on the event loop. That is safe to do because a WAL reader
never waits for writers, and the busy timeout is zero: should SQLite ever answer "busy" (or
anything else go wrong), `fetch` returns `MISS` and the caller takes the ordinary async path.
Each lookup steps its statement to the end, so no read transaction stays open between calls
and every lookup sees the latest committed writes (a sign-out is seen at once).
"""

from __future__ import annotations

import sqlite3
import weakref
from collections import namedtuple
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

MISS: Any = object()


class FastReader:
    def __init__(self, engine: AsyncEngine, statement: sa.Select[Any]) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self._sql = str(compiled)
        self._params = list(compiled.positiontup or [])
        self._path = Path(engine.url.database or "")
        self._conn: sqlite3.Connection | None = None
        self._row: Any = None

    @staticmethod
    def usable(engine: AsyncEngine) -> bool:
        """Only for a SQLite database in a file (not `:memory:`, not a URI with options)."""
        database = engine.url.database or ""
        return (
            engine.dialect.name == "sqlite"
            and database not in ("", ":memory:")
            and not database.startswith("file:")
            and not engine.url.query
        )

    def fetch(self, **params: Any) -> Any:
        """The first row (attribute access by column name), None, or MISS to use the slow path."""
        try:
            conn = self._conn or self._open()
            cursor = conn.execute(self._sql, [params[name] for name in self._params])
            rows = cursor.fetchall()
        except sqlite3.Error:
            self.close()
            return MISS
        if not rows:
            return None
        if self._row is None:
            self._row = namedtuple("Row", [column[0] for column in cursor.description])  # type: ignore[misc]
        return self._row(*rows[0])

    async def read(self, **params: Any) -> Any:
        """`fetch` for callers that serve PostgreSQL too (`stores/sql/reads.py`)."""
        return self.fetch(**params)

    def _open(self) -> sqlite3.Connection:
        if not self._path.is_file():
            raise sqlite3.OperationalError("database file not created yet")
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        self._conn = conn
        weakref.finalize(self, conn.close)
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
