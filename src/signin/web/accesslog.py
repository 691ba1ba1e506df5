"""Access log without query strings: reset and verification links carry tokens in the query.

uvicorn's own access log prints the full request target, so `serve` turns it off and this
middleware logs method, path, status, duration and client address instead.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("signin.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            peer = scope.get("client")
            client = peer[0] if peer else "-"
            took = (time.perf_counter() - started) * 1000
            line = f'{client} "{scope["method"]} {scope["path"]}" {status} {took:.1f}ms'
            # One finished string and a record made directly: `log.info` would also walk the
            # stack for its caller (findCaller), a few per cent of a session check's CPU time.
            # No args, so a `%` in a path is never read as a format.
            log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None))
