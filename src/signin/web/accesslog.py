"""Access log without query strings: reset and verification links carry tokens in the query.

uvicorn's own access log prints the full request target, so `serve` turns it off and this
middleware logs method, path, status, duration and client address instead.

Successful session checks and forward-auth answers (the `quiet` requests, 2xx) are logged at
DEBUG, every other request at INFO. A reverse proxy asks `/api/v1/verify` once for every request
it forwards and logs that request itself; an app polls `/api/v1/session` the same way. At INFO
these lines were most of the log and about 40 % of a check's CPU time (bench/FINDINGS.md).
Denied checks (401, redirects to sign-in), sign-ins, sign-ups and every error stay at INFO.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signin.escape import escape_text

log = logging.getLogger("signin.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, *, quiet: Collection[tuple[str, str]] = ()) -> None:
        self.app = app
        self.quiet = frozenset(quiet)  # (method, path) logged at DEBUG when answered 2xx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            level = logging.INFO
            if 200 <= status < 300 and (scope["method"], scope["path"]) in self.quiet:
                level = logging.DEBUG
            if log.isEnabledFor(level):
                self._write(scope, status, level, started)

    @staticmethod
    def _write(scope: Scope, status: int, level: int, started: float) -> None:
        peer = scope.get("client")
        client = peer[0] if peer else "-"
        took = (time.perf_counter() - started) * 1000
        # Client text is escaped: a `%0a` in the path would forge a second line (SPEC 16).
        path = escape_text(scope["path"])
        line = f'{escape_text(client)} "{scope["method"]} {path}" {status} {took:.1f}ms'
        # One finished string and a record made directly: `log.info` would also walk the
        # stack for its caller (findCaller), a few per cent of a session check's CPU time.
        # No args, so a `%` in a path is never read as a format.
        log.handle(log.makeRecord(log.name, level, __file__, 0, line, (), None))
