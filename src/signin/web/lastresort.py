"""The outermost guard: heads over 16 KiB get 431, and no error reaches the ASGI server bare.

uvicorn answers an exception that leaves the app with its own `500 text/plain`: no security
headers, no access-log line, a traceback in the log (a 20,000-deep JSON array did it, raising
`RecursionError` before any middleware ran). `guard` runs around everything `SigninApp` does;
its refusals go through the same edge (proxy, access log, security headers) as every answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signin.web.errors import plain_error_response
from signin.web.security import log_unhandled

MAX_HEAD = 16 * 1024  # request line and headers together (SPEC section 16)
REFUSAL = "signin.refusal"  # scope key: the status `refusal_app` answers with
DETAILS = {
    431: ("Request header fields too large", "The request headers are larger than 16 KiB."),
    500: ("Internal server error", "Something went wrong on our side. Please try again."),
}


# For the answer of last resort, when even the edge fails: fixed, strict, no client text.
BARE_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


def head_size(scope: Scope) -> int:
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    for name, value in scope["headers"]:
        size += len(name) + len(value) + 4  # ": " and CRLF
    return size


async def refusal_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer `scope[REFUSAL]` as a problem (API paths) or a small page: the edge adds headers."""
    status: int = scope[REFUSAL]
    title, detail = DETAILS[status]
    await plain_error_response(scope, status, title, detail)(scope, receive, send)


async def guard(
    dispatch: Callable[[Scope, Receive, Send], Awaitable[None]],
    refusals: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    if head_size(scope) > MAX_HEAD:
        await refusals({**scope, REFUSAL: 431}, receive, send)
        return
    started = False

    async def tracked(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await dispatch(scope, receive, tracked)
    except Exception as exc:
        log_unhandled(scope, exc)
        if started:
            raise  # half an answer is out: the server can only close the connection
        try:
            await refusals({**scope, REFUSAL: 500}, _no_receive, send)
        except Exception:  # the edge itself is what fails: answer below it, headers and all
            await send({"type": "http.response.start", "status": 500, "headers": BARE_HEADERS})
            await send({"type": "http.response.body", "body": b"Internal server error"})


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
