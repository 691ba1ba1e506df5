"""The hottest requests, answered ahead of FastAPI by the same functions as the routes.

`GET /api/v1/session` and `GET`/`HEAD /api/v1/verify` (forward-auth: a proxy asks once per
request it forwards) are the hot read paths, `POST /api/v1/session` (sign-in) the hot write
path. Through FastAPI each one paid for its middleware stack (error handling, body limit,
telemetry hooks), matching about 25 routes, solving dependencies and building the response:
well over half of a check's CPU time, and most of a refused sign-in's (bench/FINDINGS.md).

`SigninApp` (app.py) sends these requests, and only these, to `answer` through the same
proxy-header, access-log and security-header layers as every other request, built from the same
list. `answer` calls `api.session_answer`, `forward_auth.verify_answer` and
`api.session_created`, which the routes call too, and turns exceptions into responses with the
app's own exception handlers.

A sign-in takes this path only when its body is well-formed: at most 64 KiB, declared JSON and
valid for the route's own model (`api.SignInIn`), parsed as FastAPI parses it. Anything else is
handed, body and all, to FastAPI, so every 413, 415 and 422 still comes from there. Any other
method or path, including a trailing slash, goes to FastAPI too: 405s, redirects and 404s keep
coming from the router, and the routes stay in the schema.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from signin.web.api import SignInIn, is_json, session_answer, session_created
from signin.web.forward_auth import verify_answer
from signin.web.security import MAX_BODY

Answer = Callable[[Request], Awaitable[Response]]
SIGN_IN = ("POST", "/api/v1/session")
PARSED = "signin.body"  # scope key: the sign-in body, parsed before the outer layers ran


async def _verify(request: Request) -> Response:
    # FastAPI reads a scalar query parameter the same way: the last `rd=` wins.
    return await verify_answer(request, request.query_params.get("rd"))


async def _sign_in(request: Request) -> Response:
    body: SignInIn = request.scope[PARSED]
    return await session_created(request, body)


ANSWERS: dict[tuple[str, str], Answer] = {
    ("GET", "/api/v1/session"): session_answer,
    ("GET", "/api/v1/verify"): _verify,
    ("HEAD", "/api/v1/verify"): _verify,
    SIGN_IN: _sign_in,
}
CHECKS = frozenset(ANSWERS) - {SIGN_IN}  # read-only: their 2xx lines are logged at DEBUG


def is_fast(scope: Scope) -> bool:
    """True for the requests `answer` may answer (`SigninApp` routes them around FastAPI)."""
    return (
        scope["type"] == "http"
        and not scope.get("root_path")
        and (scope["method"], scope["path"]) in ANSWERS
    )


async def prepare(scope: Scope, receive: Receive) -> tuple[bool, Receive]:
    """Whether `answer` takes this request, and the `receive` to go on with either way.

    Reads a sign-in's body (at most `MAX_BODY` + 1 bytes) and parses it; the returned `receive`
    hands the messages read so far out again before reading on, for whichever app follows.
    """
    if (scope["method"], scope["path"]) != SIGN_IN:
        return True, receive
    messages: list[Message] = []
    body = b""
    complete = _declared_length(scope) <= MAX_BODY
    while complete:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            complete = False  # the client went away: FastAPI's path deals with it
            break
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            complete = False
        elif not message.get("more_body", False):
            break
    if complete:
        parsed = _sign_in_body(scope, body)
        if parsed is not None:
            scope[PARSED] = parsed
    return PARSED in scope, _replay(messages, receive)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return MAX_BODY + 1  # not ours to judge: FastAPI's path answers it
    return 0


def _sign_in_body(scope: Scope, body: bytes) -> SignInIn | None:
    """The body as the route would see it, or None where the route would refuse it."""
    # The first Content-Type, as `request.headers.get` in `api.require_json` reads it.
    content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
    if not is_json(content_type.decode("latin-1")):
        return None
    try:
        # As FastAPI does: `json.loads` on the bytes, then the model in Python (lax) mode.
        return SignInIn.model_validate(json.loads(body))
    except (ValueError, ValidationError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
        return None  # FastAPI's path answers it (400/422); RecursionError: `[[[[...` 20,000 deep


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    """Pure ASGI endpoint for the requests `prepare` accepted; `scope["app"]` is the app."""
    request = Request(scope, receive)
    try:
        response = await ANSWERS[scope["method"], scope["path"]](request)
    except Exception as exc:
        handler = _handler_for(scope, exc)
        if handler is None:
            raise  # as through the router: SecurityMiddleware answers 500
        response = await handler(request, exc)
    await response(scope, receive, send)


def _handler_for(
    scope: Scope, exc: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    """The handler Starlette's ExceptionMiddleware would pick (by the exception's MRO).

    The one for `Exception` is left out, as there: Starlette runs it only in its outermost
    middleware, and SecurityMiddleware answers unhandled errors before that.
    """
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            found: Callable[[Request, Exception], Awaitable[Response]] = handlers[cls]
            return found
    return None
