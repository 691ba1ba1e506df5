"""Security headers on every response, and the 64 KiB request body limit."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signin.escape import escape_text
from signin.i18n import N_

MAX_BODY = 64 * 1024
NO_REFERRER_PATHS = ("/reset-password", "/verify-email", "/unlock", "/oidc/")
CACHEABLE_PATHS = ("/static/", "/api/docs/assets/")  # files, never per-user pages
STRICT_ORIGIN = b"strict-origin-when-cross-origin"
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


# Set on every response, replacing what a handler set (and the Referrer-Policy after them).
FIXED = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
REPLACED = frozenset([*(name for name, _ in FIXED), b"referrer-policy"])
HSTS = (b"strict-transport-security", b"max-age=31536000")
NO_STORE = (b"cache-control", b"no-store")


class SecurityMiddleware:
    """Adds the headers of SPEC section 3 and refuses bodies over `MAX_BODY` with 413.

    Handlers may set their own Content-Security-Policy, Strict-Transport-Security and
    Cache-Control (kept); the other headers are always this layer's. The headers are added
    to the raw list in one pass (a session check is answered in well under 0.1 ms of CPU, and
    six `MutableHeaders` edits, each scanning the list, were a tenth of it).
    """

    def __init__(self, app: ASGIApp, *, csp: str, max_body: int = MAX_BODY) -> None:
        self.app = app
        # The application an error answered here renders with (its services, templates): the
        # edge's dispatcher holds it, a plain app is it.
        self.owner: Any = getattr(app, "app", app)
        self.csp = (b"content-security-policy", csp.encode("latin-1"))
        self.max_body = max_body

    def _add_headers(self, path: str, https: bool, raw: Iterable[Any]) -> list[Any]:
        """The handler's headers (ASGI: lower-case byte names) plus ours."""
        headers = [pair for pair in raw if pair[0] not in REPLACED]
        present = {name for name, _ in headers}
        if self.csp[0] not in present:
            headers.append(self.csp)
        headers += FIXED
        referrer = b"no-referrer" if path.startswith(NO_REFERRER_PATHS) else STRICT_ORIGIN
        headers.append((b"referrer-policy", referrer))
        if https and HSTS[0] not in present:
            # Only over https (directly or as a trusted proxy reports it): an http
            # response cannot set it, and a test instance on http must not pin browsers.
            headers.append(HSTS)
        if NO_STORE[0] not in present and not path.startswith(CACHEABLE_PATHS):
            headers.append(NO_STORE)
        return headers

    def _answering(self, scope: Scope) -> Scope:
        """The scope an error answered here renders in: with the app, even before the router."""
        return scope if "app" in scope else {**scope, "app": self.owner}

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
                https = scope.get("scheme") == "https"
                message["headers"] = self._add_headers(path, https, message.get("headers", ()))
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await _too_large(self._answering(scope), send_with_headers)
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
            await _too_large(self._answering(scope), send_with_headers)
        except ClientDisconnect:
            return  # the client went away mid-body: nobody to answer, nothing went wrong here
        except Exception as exc:
            # The one place a crash is answered (SigninApp drops Starlette's own error layer):
            # here, where the headers are added.
            if started:
                raise
            await _server_error(self._answering(scope), exc, send_with_headers)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(scope: Scope, send: Send) -> None:
    await _answer(scope, 413, N_("The request body is larger than 64 KiB."), send)


def log_unhandled(scope: Scope, exc: Exception) -> None:
    log.error(
        "unhandled error on %s %s: %s",
        scope.get("method"),
        escape_text(scope.get("path", "")),
        type(exc).__name__,
        exc_info=exc,
    )


async def _server_error(scope: Scope, exc: Exception, send: Send) -> None:

    log_unhandled(scope, exc)
    await _answer(scope, 500, N_("Something went wrong on our side. Please try again."), send)


async def _answer(scope: Scope, status: int, detail: str, send: Send) -> None:
    """The usual error page or problem+json in the reader's language, answered here (below
    the router); English plain text only if that fails (the answer to a fault must not fault)."""
    from starlette.requests import Request

    from signin.web.errors import plain_error_response, respond
    from signin.web.locale import gettext

    request = Request(scope, _no_receive)
    try:
        response = respond(request, status, gettext(request, detail))
    except Exception:
        log.exception("the error answer failed")
        response = plain_error_response(scope, status, HTTPStatus(status).phrase, detail)
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
