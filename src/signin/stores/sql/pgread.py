"""Point lookups on PostgreSQL on plain asyncpg connections, without SQLAlchemy's session work.

Through SQLAlchemy's async engine one read by a unique key is a pool checkout with a pre-ping
(`SELECT 1`), BEGIN, the SELECT and ROLLBACK: four round trips, and about 1.6 ms of CPU per
read with 32 at a time on the bench machine, against 0.09 ms for the same SELECT on a plain
asyncpg connection (bench/FINDINGS-scaleout.md, S9). A sign-in makes two such reads (the user
by name, then whether a second step is due).

`PgReads` keeps up to `SIZE` asyncpg connections per engine and event loop, opened on first
use with the parameters SQLAlchemy derives from the same URL (host, TLS, ...), in read-only
mode (`default_transaction_read_only`). Each statement runs on its own, in autocommit: one round
trip, and every read sees the latest commit. Anything unexpected (a refused or lost connection,
a timeout, an error from the server) closes that connection, and for `PAUSE_SECONDS` every read
answers `MISS`: the caller then takes its ordinary path through SQLAlchemy, whose errors the
stores already turn into `StoreUnavailable` (503), and which reconnects as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.sql.engine import PG_CONNECT_SECONDS, OnePerEngine, on_asyncpg
from signin.stores.sql.fastread import MISS

log = logging.getLogger(__name__)

SIZE = 4  # connections per process: reads are one round trip each, so a few go a long way
QUERY_SECONDS = 5.0  # as long as a connection may take: then PostgreSQL counts as not answering
PAUSE_SECONDS = 5.0  # after a fault, reads take SQLAlchemy's path for this long
# Options SQLAlchemy's asyncpg dialect reads from the URL for itself, not for asyncpg.connect.
_DIALECT_ONLY = (
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
    "async_creator_fn",
)


class Row(asyncpg.Record):  # type: ignore[misc]  # asyncpg has no type stubs
    """A row whose columns read as attributes too, as SQLAlchemy's rows do."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Slots:
    """The connections of one event loop: each asyncpg connection belongs to its own loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.free: list[asyncpg.Connection] = []
        self.limit = asyncio.Semaphore(size)


class PgReads(OnePerEngine):
    """`shared(engine)`: the plain connections of a PostgreSQL engine (`usable`), else None."""

    size = SIZE
    read_only = True

    def __init__(self, engine: AsyncEngine) -> None:
        args, options = engine.dialect.create_connect_args(engine.url)
        for name in _DIALECT_ONLY:
            options.pop(name, None)
        options.setdefault("timeout", PG_CONNECT_SECONDS)
        settings = dict(options.get("server_settings") or {})
        if self.read_only:
            settings["default_transaction_read_only"] = "on"  # these connections only ever read
        options["server_settings"] = settings
        self._args = list(args)
        self._options = options
        self._slots: _Slots | None = None
        self._paused_until = 0.0
        # Whoever disposes of the engine (services.close, a test) ends these connections too.
        sa.event.listen(engine.sync_engine, "engine_disposed", self._disposed)

    @staticmethod
    def usable(engine: AsyncEngine) -> bool:
        return on_asyncpg(engine)

    async def fetch(self, sql: str, args: list[Any]) -> Any:
        """The first row of `sql`, None when there is none, or MISS: take the ordinary path."""
        if self._paused_until and time.monotonic() < self._paused_until:
            return MISS
        try:
            return await self._row(sql, args)
        except Exception as exc:
            self._pause(exc)
            return MISS

    async def _row(self, sql: str, args: list[Any]) -> Any:
        """The first row of `sql` on a free connection; a fault ends that connection, raised."""
        slots = self._slots_here()
        async with slots.limit:
            conn = slots.free.pop() if slots.free else None
            try:
                if conn is None:
                    conn = await asyncpg.connect(*self._args, **self._options)
                row = await conn.fetchrow(sql, *args, timeout=QUERY_SECONDS, record_class=Row)
            except BaseException:  # also cancelled half-way: the connection's state is unknown
                if conn is not None:
                    _end(conn)
                raise
            if slots is self._slots:
                slots.free.append(conn)
            else:  # the engine was disposed of meanwhile
                _end(conn)
            return row

    def _slots_here(self) -> _Slots:
        loop = asyncio.get_running_loop()
        slots = self._slots
        if slots is None or slots.loop is not loop:
            if slots is not None:
                for conn in slots.free:
                    _end(conn)
            slots = self._slots = _Slots(loop, self.size)
        return slots

    def _pause(self, exc: Exception) -> None:
        self._paused_until = time.monotonic() + PAUSE_SECONDS
        log.info(
            "PostgreSQL point reads go through SQLAlchemy for %g s: %s",
            PAUSE_SECONDS,
            type(exc).__name__,
        )

    def _disposed(self, _engine: sa.Engine) -> None:
        slots, self._slots = self._slots, None
        while slots is not None and slots.free:
            _end(slots.free.pop())

    async def close(self) -> None:
        """End the connections politely (a Terminate message); `signin serve` on its way out."""
        slots, self._slots = self._slots, None
        if slots is None:
            return
        while slots.free:
            conn = slots.free.pop()
            try:
                await conn.close(timeout=2)
            except Exception:  # closing is best effort: the socket goes either way
                _end(conn)


def _end(conn: asyncpg.Connection) -> None:
    """Close `conn` at once, without a word to the server, even from another loop than its own
    (tests run one per test): that loop may be closed already, and its socket goes with it."""
    with contextlib.suppress(RuntimeError):  # "Event loop is closed"
        conn.terminate()


class PgReader:
    """One compiled SELECT run through the engine's `PgReads`."""

    def __init__(self, reads: PgReads, engine: AsyncEngine, statement: sa.Select[Any]) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self._reads = reads
        self._sql = str(compiled)
        self._params = list(compiled.positiontup or [])

    async def read(self, **params: Any) -> Any:
        """The first row (columns as attributes), None, or MISS to take the ordinary path."""
        return await self._reads.fetch(self._sql, [params[name] for name in self._params])
