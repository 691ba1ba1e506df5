"""Short SQLite write transactions on one plain `sqlite3` connection in one dedicated thread.

The fail-lock counters are written on every sign-in attempt (reserve, then clear or release),
and on an attempt against a locked username that is all the work there is. Through SQLAlchemy's
async engine on aiosqlite each such transaction cost about 1.2 ms of CPU in thread round trips
(pool checkout, BEGIN IMMEDIATE, statement, fetch, COMMIT) for a few microseconds of SQLite
work (bench/RESULTS.md, W4); a new session cost as much again. Here a transaction of one or
more statements runs as one `BEGIN IMMEDIATE ... COMMIT` in the writer thread: one hop there and
back, never on the event loop (a commit may wait for the disk or for another process's write
lock, up to the same 30 s busy timeout as the engine). A transaction of several statements can
stop early, after the first statement whose outcome says so (`run_all`'s `stop`): the attempt
refused for its IP is not counted on its username, and it is still one round trip.

Durability is chosen per transaction. Lock counters commit with `synchronous=NORMAL`: in WAL mode
that survives the process being killed (kill -9, a restart), which is what SPEC section 5 asks
of lock state; only a power loss or kernel crash may forget the last few counts. Sessions are
written with `durable=True`, which commits with `synchronous=FULL` like the engine's sign-ups:
an acknowledged sign-in or sign-out stays on disk even through a power loss. Both kinds go
through the one writer of their engine (`FastWriter.shared`) rather than one connection each:
they would take turns on SQLite's single write lock anyway, and in one thread they queue
without the busy handler's sleep-and-retry between two connections of one process. The pragma
is switched only when the durability changes from one transaction to the next, outside any
transaction, and a FULL commit also syncs the NORMAL commits before it (one WAL file).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

from signin.stores.base import StoreUnavailable
from signin.stores.sql.engine import OnePerEngine
from signin.stores.sql.fastread import FastReader
from signin.stores.sql.lite import SQLITE_BUSY_MS


@dataclass(frozen=True)
class Compiled:
    """SQL text with `?` placeholders, its bind names in order, and the values fixed in it."""

    text: str
    names: list[str]
    fixed: dict[str, Any]

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] if name in params else self.fixed[name] for name in self.names]


@dataclass(frozen=True)
class Outcome:
    rows: list[tuple[Any, ...]]
    rowcount: int


Step = tuple[Compiled, Mapping[str, Any]]
# Called in the writer thread after each statement with its index and outcome; True ends the
# transaction there (committing what ran so far).
Stop = Callable[[int, Outcome], bool]


class FastWriter(OnePerEngine):
    """`shared(engine)`: the one writer of a SQLite file's engine (`usable`), else None."""

    usable = staticmethod(FastReader.usable)

    def __init__(self, engine: AsyncEngine) -> None:
        self._dialect = engine.dialect
        self._path = Path(engine.url.database or "")
        self._conn: sqlite3.Connection | None = None
        self._durable = False  # the connection's setting: synchronous=FULL when True
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        weakref.finalize(self, self._pool.shutdown, wait=False)

    def compile(self, statement: sa.ClauseElement) -> Compiled:
        compiled = cast(SQLCompiler, statement.compile(dialect=self._dialect))
        return Compiled(str(compiled), list(compiled.positiontup or []), dict(compiled.params))

    async def run(
        self, sql: Compiled, params: Mapping[str, Any], *, durable: bool = False
    ) -> Outcome:
        """One statement as one transaction."""
        return (await self.run_all([(sql, params)], durable=durable))[0]

    async def run_all(
        self, steps: Sequence[Step], *, stop: Stop | None = None, durable: bool = False
    ) -> list[Outcome]:
        """The statements in order as one transaction; the outcomes of those that ran.

        With `stop`, the transaction ends after the first statement it returns True for. Errors
        are those of the async path: a constraint violation is SQLAlchemy's `IntegrityError`
        (its parameters hidden: they hold token hashes), every other fault `StoreUnavailable`.
        """
        bound = [(sql.text, sql.values(params)) for sql, params in steps]
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._transaction, bound, stop, durable)
        except sqlite3.IntegrityError as exc:
            statements = "; ".join(text for text, _ in bound)
            raise sa.exc.IntegrityError(statements, None, exc, hide_parameters=True) from exc
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc).splitlines()[0]) from exc

    def _transaction(
        self, steps: list[tuple[str, list[Any]]], stop: Stop | None, durable: bool
    ) -> list[Outcome]:
        conn = self._conn or self._open()
        if durable != self._durable:
            conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._durable = durable
        outcomes: list[Outcome] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for index, (text, values) in enumerate(steps):
                cursor = conn.execute(text, values)
                outcomes.append(Outcome(cursor.fetchall(), cursor.rowcount))
                if stop is not None and stop(index, outcomes[-1]):
                    break
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

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
        self._durable = False
        self._conn = conn
        weakref.finalize(self, conn.close)
        return conn
