"""Security headers on every response, and the 64 KiB request body limit."""

from __future__ import annotations

import logging

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 64 * 1024
NO_REFERRER_PATHS = ("/reset-password", "/verify-email")
CACHEABLE_PATHS = ("/static/", "/api/docs/assets/")  # files, never per-user pages
log = logging.getLogger("signin.web")


def content_security_policy(form_targets: list[str]) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action " + " ".join(["'self'", *form_targets]),
        ]
    )


class BodyTooLarge(HTTPException):
    """Raised while reading a body past the limit; an HTTPException so FastAPI passes it on."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is larger than 64 KiB.")


class SecurityMiddleware:
    """Adds the headers of SPEC section 3 and refuses bodies over `MAX_BODY` with 413."""

    def __init__(self, app: ASGIApp, *, csp: str, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.csp = csp
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Referrer-Policy"] = (
                    "no-referrer"
                    if path.startswith(NO_REFERRER_PATHS)
                    else "strict-origin-when-cross-origin"
                )
                if scope.get("scheme") == "https":
                    # Only over https (directly or as a trusted proxy reports it): an http
                    # response cannot set it, and a test instance on http must not pin browsers.
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                if not path.startswith(CACHEABLE_PATHS):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await _too_large(scope, send_with_headers)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            # Reached only when no handler turned it into a response already.
            if started:
                raise
            await _too_large(scope, send_with_headers)
        except ClientDisconnect:
            return  # the client went away mid-body: nobody to answer, nothing went wrong here
        except Exception as exc:
            # Starlette answers unhandled errors in its outermost middleware, outside this one,
            # so that 500 would lack these headers: answer it here, where they are added.
            if started:
                raise
            await _server_error(scope, exc, send_with_headers)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(scope: Scope, send: Send) -> None:
    from signin.web.errors import plain_error_response

    response = plain_error_response(
        scope, 413, "Request too large", "The request body is larger than 64 KiB."
    )
    await response(scope, _no_receive, send)


async def _server_error(scope: Scope, exc: Exception, send: Send) -> None:
    from starlette.requests import Request

    from signin.web.errors import respond

    log.error(
        "unhandled error on %s %s: %s",
        scope.get("method"),
        scope.get("path"),
        type(exc).__name__,
        exc_info=exc,
    )
    request = Request(scope, _no_receive)
    response = respond(request, 500, "Something went wrong on our side. Please try again.")
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
