"""The edge: proxy headers → observer (audit origin, metrics) → access log → security headers,
once, around one dispatcher.

Every request crosses the same three layers (STYLE 16), built here and nowhere else. Inside
them `Dispatcher` sends the hot (method, path) pairs straight to plain endpoints and every other
request to FastAPI, which has no middleware of its own.

The hot pairs are the session check (`GET /api/v1/session`), forward-auth (`GET`/`HEAD
/api/v1/verify`: a proxy asks once per request it forwards) and sign-in (`POST
/api/v1/session`). Through FastAPI each one paid for its error and body-limit middleware,
telemetry hooks, matching about 25 routes, solving dependencies and building the response: well
over half of a check's CPU time, and most of a refused sign-in's (bench/FINDINGS.md). So their
routes name a plain endpoint with `@answered_by` (no body) or `@answered_by_json` (a JSON body
model), and `hot_table` collects those from the app's routes: one declaration for both paths.
Such requests are not traced when OpenTelemetry is configured.

A hot request with a body is taken only when `accept_json` accepts the body: declared JSON and
valid for the route's model, parsed as FastAPI parses it. Anything else goes, body and all, to
FastAPI, so every 415 and 422 still comes from there (the 64 KiB limit is the security layer's,
for both). Any other method or path, a trailing slash included, goes to FastAPI too: 405s,
redirects and 404s keep coming from the router, and the routes stay in the schema. Exceptions
become responses through `web/errors.error_response`, the function FastAPI's handlers call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signin.settings import Network
from signin.telemetry import Metrics
from signin.web.accesslog import AccessLogMiddleware
from signin.web.errors import error_response
from signin.web.observe import ObserveMiddleware
from signin.web.proxy import ProxyHeadersMiddleware
from signin.web.security import SecurityMiddleware

E = TypeVar("E", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)
Check = Callable[[Request], Awaitable[Response]]
Raw = Callable[[Scope], Awaitable[bytes | None]]
HOT = "signin_hot"  # attribute on a route's endpoint: its `Hot` endpoint
READ_ONLY = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Hot:
    """A plain endpoint: `call(request, body)`, body parsed with `model` (None: no body).

    `raw(scope)`, where given, answers first: a JSON body for a 200, straight from the scope
    (no `Request`, no `Response`), or None to let `call` answer.
    """

    call: Callable[[Request, Any], Awaitable[Response]]
    model: type[BaseModel] | None = None
    raw: Raw | None = None


def answered_by(check: Check, *, raw: Raw | None = None) -> Callable[[E], E]:
    """Mark a route (no body) as answered by `check` ahead of the router (by `raw` first,
    where given: its 200s)."""

    async def call(request: Request, _body: Any) -> Response:
        return await check(request)

    return _mark(Hot(call, raw=raw))


def answered_by_json(
    model: type[M], answer: Callable[[Request, M], Awaitable[Response]]
) -> Callable[[E], E]:
    """Mark a route as answered by `answer(request, body)` when its JSON body is `model`."""
    return _mark(Hot(answer, model))


def _mark(hot: Hot) -> Callable[[E], E]:
    def mark(endpoint: E) -> E:
        setattr(endpoint, HOT, hot)
        return endpoint

    return mark


def hot_table(routers: Iterable[APIRouter]) -> dict[tuple[str, str], Hot]:
    """(method, path) → `Hot`, from the `answered_by` marks on the routers' own routes.

    The routers must be included in the app without a prefix of their own (their routes carry
    the full path); a router included into another one is not searched.
    """
    table: dict[tuple[str, str], Hot] = {}
    for route in (route for router in routers for route in router.routes):
        if isinstance(route, APIRoute) and (hot := getattr(route.endpoint, HOT, None)):
            table.update({(method, route.path): hot for method in route.methods or ()})
    return table


def is_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/json"


def accept_json(content_type: str, body: bytes, model: type[M]) -> M | None:
    """The body as the route would see it, or None where FastAPI's route would refuse it."""
    if not is_json(content_type):
        return None
    try:
        # As FastAPI does: `json.loads` on the bytes, then the model in Python (lax) mode.
        return model.model_validate(json.loads(body))
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; RecursionError is `[[[[...`
    # 20,000 deep (SPEC section 16): FastAPI's path answers each of them with a 4xx.
    except (ValueError, ValidationError, RecursionError):
        return None


class Dispatcher:
    """Hot pairs to their plain endpoints, everything else to `fallback` (FastAPI's stack)."""

    def __init__(self, app: FastAPI, hot: dict[tuple[str, str], Hot], fallback: ASGIApp) -> None:
        self.app = app  # `scope["app"]`, as Starlette sets it: endpoints find services there
        self.hot = hot
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = None
        if scope["type"] == "http" and not scope.get("root_path"):
            hot = self.hot.get((scope["method"], scope["path"]))
        if hot is None:
            await self.fallback(scope, receive, send)
            return
        body = None
        if hot.model is not None:
            body, receive = await read_json(scope, receive, hot.model)
            if body is None:
                await self.fallback(scope, receive, send)
                return
        scope["app"] = self.app
        request = None
        json_body = None
        try:
            if hot.raw is not None:
                json_body = await hot.raw(scope)
            if json_body is None:
                request = Request(scope, receive)
                response = await hot.call(request, body)
        except Exception as exc:
            request = request or Request(scope, receive)
            answer = await error_response(request, exc)
            if answer is None:
                raise  # as through the router: the security layer answers 500
            response = answer
        if json_body is not None:
            await send_json(send, json_body)
            return
        await response(scope, receive, send)


async def send_json(send: Send, body: bytes) -> None:
    """A 200 with a JSON body: the messages and headers a Starlette `Response` sends."""
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_json(scope: Scope, receive: Receive, model: type[M]) -> tuple[M | None, Receive]:
    """The body parsed by `accept_json`, and a `receive` that hands it out again first.

    The security layer's `receive` stops a body past 64 KiB (413) while it is read here.
    """
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, _replay(messages, receive)  # the client went away: FastAPI's concern
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    # The first Content-Type, as `request.headers.get` reads it.
    content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
    return accept_json(content_type.decode("latin-1"), body, model), _replay(messages, receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def build_edge(
    dispatcher: ASGIApp,
    *,
    trusted: Sequence[Network],
    csp: str,
    quiet: Collection[tuple[str, str]] = (),
    metrics: Metrics | None = None,
) -> ASGIApp:
    """The one stack, outermost first: the proxy layer settles the address the log shows and
    the audit log records; the observer times each request for the metrics."""
    inner: ASGIApp = AccessLogMiddleware(SecurityMiddleware(dispatcher, csp=csp), quiet=quiet)
    if metrics is not None:
        hot = dispatcher.hot if isinstance(dispatcher, Dispatcher) else {}
        inner = ObserveMiddleware(inner, metrics=metrics, hot=frozenset(hot))
    return ProxyHeadersMiddleware(inner, trusted=trusted)


def quiet_pairs(hot: dict[tuple[str, str], Hot]) -> frozenset[tuple[str, str]]:
    """The hot read-only checks, whose 2xx lines the access log keeps at DEBUG."""
    return frozenset(pair for pair in hot if pair[0] in READ_ONLY)
