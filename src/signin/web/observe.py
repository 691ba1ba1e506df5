"""Per request, once, in the edge: who is asking (for the audit log) and how long it took.

Sits right inside the proxy-header layer, so the client address is the one that layer settled.
It sets `accounts.audit.ORIGIN` for the services below and, when the response is done, observes
`signin_request_seconds` under the route's template ("/account/sessions/end", never a raw path
with its tokens or ids), "/static" for files, or "unmatched" for 404s of unknown paths.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signin.accounts.audit import ORIGIN, Origin
from signin.telemetry import Metrics

USER_AGENT_MAX = 512


class RequestOrigin:
    """The request's client address and user agent, read when an event is recorded."""

    __slots__ = ("scope",)

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def origin(self) -> Origin:
        scope = self.scope
        agent = next((value for name, value in scope["headers"] if name == b"user-agent"), b"")
        client = scope.get("client")
        return Origin(
            ip=client[0] if client else None,
            user_agent=agent[:USER_AGENT_MAX].decode("latin-1") or None,
        )


def route_label(scope: Scope, hot: Collection[tuple[str, str]]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if (scope["method"], scope["path"]) in hot:
        return str(scope["path"])  # answered ahead of the router (web/edge.py's Dispatcher)
    if scope["path"].startswith("/static/"):
        return "/static"
    return "unmatched"


class ObserveMiddleware:
    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, hot: Collection[tuple[str, str]] = ()
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.hot = hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        token = ORIGIN.set(RequestOrigin(scope))
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            ORIGIN.reset(token)
            elapsed = time.perf_counter() - started
            self.metrics.request(route_label(scope, self.hot), scope["method"], status, elapsed)
