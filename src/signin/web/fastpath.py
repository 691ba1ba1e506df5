"""Session checks answered ahead of FastAPI's router, by the same functions as the routes.

`GET /api/v1/session` and `GET`/`HEAD /api/v1/verify` (forward-auth: a proxy asks once per
request it forwards) are the hot paths. Through FastAPI each one paid for its middleware stack
(error handling, body limit, telemetry hooks), matching about 25 routes, solving dependencies
and validating a response model: well over half of its CPU time (bench/FINDINGS.md).

`SigninApp` (app.py) sends these requests, and only these, to `answer_check` through the same
proxy-header, access-log and security-header layers as every other request, built from the same
list. `answer_check` calls `api.session_answer` / `forward_auth.verify_answer`, which the routes
call too, and turns exceptions into responses with the app's own exception handlers. Any other
method or path, including a trailing slash, goes to FastAPI: 405s, redirects and 404s keep
coming from the router, and the routes stay in the schema.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from signin.web.api import session_answer
from signin.web.forward_auth import verify_answer

Answer = Callable[[Request], Awaitable[Response]]


async def _verify(request: Request) -> Response:
    # FastAPI reads a scalar query parameter the same way: the last `rd=` wins.
    return await verify_answer(request, request.query_params.get("rd"))


ANSWERS: dict[tuple[str, str], Answer] = {
    ("GET", "/api/v1/session"): session_answer,
    ("GET", "/api/v1/verify"): _verify,
    ("HEAD", "/api/v1/verify"): _verify,
}
CHECKS = frozenset(ANSWERS)  # (method, path) of the requests answered here


def is_check(scope: Scope) -> bool:
    """True for the requests `answer_check` answers (`create_app` routes them around FastAPI)."""
    return (
        scope["type"] == "http"
        and not scope.get("root_path")
        and (scope["method"], scope["path"]) in ANSWERS
    )


async def answer_check(scope: Scope, receive: Receive, send: Send) -> None:
    """Pure ASGI endpoint for the `is_check` requests; `scope["app"]` is the FastAPI app."""
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
