"""One Redis connection per process for the hot path, every request's command pipelined on it.

redis-py checks a connection out of its pool for each command, wraps it in timeouts and a
retry, and parses the reply in Python: about 100-130 µs of CPU per command on the bench
machine, as much as a whole session check costs on SQLite (bench/FINDINGS-scaleout.md, S2).
`Multiplexer` writes each command straight onto one shared connection and hands the replies
back in order (Redis answers the commands of one connection in the order it got them), parsed
by hiredis: under load many commands share one write and one read, a few µs each.

It serves the calls made on every request: the session check and the sign-in scripts. Bulk
and admin commands (scans, pipelines, listings) stay on redis-py, which the URL is shared with.
Faults become `StoreUnavailable`, as in `common.unavailable_on_error`: a refused or lost
connection, a reply error (out of memory, read-only replica, loading), or no reply within
`command_timeout` (the connection is then dropped, failing every command still waiting on it).
A command whose connection drops before its reply is sent once more on a new connection, as
redis-py's retry does; the next call after any fault connects again, so the service resumes by
itself when Redis is back.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis.asyncio.connection import RedisSSLContext, SSLConnection, parse_url

from signin.stores.base import StoreUnavailable

Arg = str | bytes | int | float


class ConnectionLost(Exception):
    """The connection closed before the reply came: the command may be sent again."""


class _Connection(asyncio.Protocol):
    """The socket's side: commands out, replies in, matched to their waiters in order."""

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.timeout = timeout
        # Text as redis-py decodes it; a stray invalid byte is replaced, never a broken stream.
        self.reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.outgoing: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, args: Sequence[Arg]) -> asyncio.Future[Any]:
        if self.closed or self.transport is None:
            raise ConnectionLost("not connected")
        future: asyncio.Future[Any] = self.loop.create_future()
        self.waiting.append((future, self.loop.time() + self.timeout))
        # The stub types the argument as a 1-tuple; any number of arguments is what it takes.
        self.outgoing.append(hiredis.pack_command(tuple(args)))  # type: ignore[arg-type]
        if len(self.outgoing) == 1:
            # Every command sent in this turn of the event loop leaves in one write: under load
            # one system call carries the commands of many requests.
            self.loop.call_soon(self._flush)
        if self._watch is None:
            self._watch = self.loop.call_later(self.timeout / 4, self._check_deadline)
        return future

    def _flush(self) -> None:
        outgoing, self.outgoing = self.outgoing, []
        if not self.closed and self.transport is not None:
            self.transport.write(b"".join(outgoing))

    def _check_deadline(self) -> None:
        """Runs a few times per timeout while replies are owed; one timer, not one per call."""
        self._watch = None
        if not self.waiting:
            return
        if self.loop.time() >= self.waiting[0][1]:
            self._fail(TimeoutError(f"no reply from Redis within {self.timeout:g} s"))
            return
        self._watch = self.loop.call_later(self.timeout / 4, self._check_deadline)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self._fail(exc)
                return
            if reply is False:  # hiredis' "no whole reply yet"
                return
            if not self.waiting:
                self._fail(hiredis.ProtocolError("a reply nobody asked for"))
                return
            future, _ = self.waiting.popleft()
            if future.done():  # its caller was cancelled; the reply is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionLost(f"connection to Redis lost: {exc or 'closed by the server'}"))

    def _fail(self, exc: Exception) -> None:
        self.closed = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()


class Multiplexer:
    """A client for the Redis at `url` (the same URL forms as redis-py) on one connection."""

    def __init__(self, url: str, *, connect_timeout: float, command_timeout: float) -> None:
        self.options: dict[str, Any] = dict(parse_url(url))
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    async def call(self, *args: Arg) -> Any:
        """Send one command and return its reply; any fault raises `StoreUnavailable`."""
        try:
            try:
                return await (await self._connection()).send(args)
            except ConnectionLost:
                return await (await self._connection()).send(args)
        except (OSError, TimeoutError, ConnectionLost, hiredis.HiredisError) as exc:
            # The reply error's text names the fault (OOM, READONLY...), never the arguments.
            lines = str(exc).splitlines()
            reason = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
            raise StoreUnavailable(f"redis: {reason}") from exc

    def script(self, source: str) -> Script:
        return Script(self, source)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.closed = True
            if self._conn.transport is not None:
                self._conn.transport.close()
            self._conn = None

    async def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and not conn.closed and conn.loop is asyncio.get_running_loop():
            return conn
        # Every request that finds no connection waits for the same attempt.
        if (
            self._connecting is None
            or self._connecting.get_loop() is not asyncio.get_running_loop()
        ):
            self._connecting = asyncio.ensure_future(self._connect())
            # Its callers may all be cancelled before it ends: its error is read here anyway.
            self._connecting.add_done_callback(_read_outcome)
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        options = self.options
        async with asyncio.timeout(self.connect_timeout):
            if "path" in options:
                _, conn = await loop.create_unix_connection(
                    lambda: _Connection(self.command_timeout), options["path"]
                )
            else:
                host = options.get("host", "localhost")
                tls = _tls_context(options)
                _, conn = await loop.create_connection(
                    lambda: _Connection(self.command_timeout),
                    host,
                    options.get("port", 6379),
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
            try:
                if options.get("password"):
                    user = [options["username"]] if options.get("username") else []
                    await conn.send(["AUTH", *user, options["password"]])
                if options.get("db"):
                    await conn.send(["SELECT", options["db"]])
            except BaseException:
                conn._fail(ConnectionLost("handshake failed"))
                raise
        self._conn = conn
        return conn


def _read_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _tls_context(options: dict[str, Any]) -> Any:
    """The TLS context redis-py would use for a `rediss://` URL, or None for plain TCP."""
    if options.get("connection_class") is not SSLConnection:
        return None
    return RedisSSLContext(
        keyfile=options.get("ssl_keyfile"),
        certfile=options.get("ssl_certfile"),
        cert_reqs=options.get("ssl_cert_reqs", "required"),
        ca_certs=options.get("ssl_ca_certs"),
        check_hostname=options.get("ssl_check_hostname", True),
    ).get()


class Script:
    """A Lua script run by its SHA-1 (EVALSHA), sent whole once when Redis does not know it."""

    def __init__(self, mux: Multiplexer, source: str) -> None:
        self.mux = mux
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[Arg], args: Sequence[Arg] = ()) -> Any:
        try:
            return await self.mux.call("EVALSHA", self.sha, len(keys), *keys, *args)
        except StoreUnavailable as exc:
            cause = exc.__cause__
            if not (isinstance(cause, hiredis.ReplyError) and str(cause).startswith("NOSCRIPT")):
                raise
        # A new or restarted Redis: EVAL runs the script and keeps it for the next EVALSHA.
        return await self.mux.call("EVAL", self.source, len(keys), *keys, *args)
