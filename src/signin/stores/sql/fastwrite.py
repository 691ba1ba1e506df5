"""Short SQLite write transactions on one plain `sqlite3` connection in one dedicated thread.

The fail-lock counters are written on every sign-in attempt (reserve, then clear or release),
and on an attempt against a locked username that is all the work there is. Through SQLAlchemy's
async engine on aiosqlite each such transaction cost about 1.2 ms of CPU in thread round trips
(pool checkout, BEGIN IMMEDIATE, statement, fetch, COMMIT) for a few microseconds of SQLite
work (bench/RESULTS.md, W4). Here one statement runs as one `BEGIN IMMEDIATE ... COMMIT` in the
writer thread: one hop there and back, never on the event loop (a commit may wait for the disk
or for another process's write lock, up to the same 30 s busy timeout as the engine).

Commits on this connection use `synchronous=NORMAL`: in WAL mode that survives the process
being killed (kill -9, a restart), which is what SPEC section 5 asks of lock state; only a power
loss or kernel crash may forget the last few counts. Sign-ups and sessions keep the engine's
`synchronous=FULL`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

from signin.stores.base import StoreUnavailable
from signin.stores.sql.engine import SQLITE_BUSY_MS
from signin.stores.sql.fastread import FastReader


@dataclass(frozen=True)
class Compiled:
    """SQL text with `?` placeholders, its bind names in order, and the values fixed in it."""

    text: str
    names: list[str]
    fixed: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    rows: list[tuple[Any, ...]]
    rowcount: int


class FastWriter:
    usable = staticmethod(FastReader.usable)

    def __init__(self, engine: AsyncEngine) -> None:
        self._dialect = engine.dialect
        self._path = Path(engine.url.database or "")
        self._conn: sqlite3.Connection | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        weakref.finalize(self, self._pool.shutdown, wait=False)

    def compile(self, statement: sa.ClauseElement) -> Compiled:
        compiled = cast(SQLCompiler, statement.compile(dialect=self._dialect))
        return Compiled(str(compiled), list(compiled.positiontup or []), dict(compiled.params))

    async def run(self, sql: Compiled, **params: Any) -> Outcome:
        values = [params[name] if name in params else sql.fixed[name] for name in sql.names]
        text = sql.text
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._transaction, text, values)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc).splitlines()[0]) from exc

    def _transaction(self, text: str, values: list[Any]) -> Outcome:
        conn = self._conn or self._open()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(text, values)
            rows = cursor.fetchall()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return Outcome(rows, cursor.rowcount)

    def _open(self) -> sqlite3.Connection:
        if not self._path.is_file():
            raise sqlite3.OperationalError(f"no database file at {self._path}")
        conn = sqlite3.connect(
            self._path,
            timeout=SQLITE_BUSY_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self._conn = conn
        weakref.finalize(self, conn.close)
        return conn
