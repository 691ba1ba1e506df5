"""Errors as HTTP: one status table, pages for people, problem+json for programs.

API paths (`/api/...`, `/healthz`) answer RFC 9457 problem details; every other path an HTML page
without stack traces.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Scope

from signin.accounts import errors as e
from signin.stores.base import StoreUnavailable

log = logging.getLogger("signin.web")
PROBLEM_TYPE = "https://signin.invalid/problems/"

STATUS: dict[type[e.SigninError], int] = {
    e.InvalidInput: 422,
    e.UsernameTaken: 409,
    e.EmailTaken: 409,
    e.InvalidCredentials: 401,
    e.WrongPassword: 401,
    e.NotAuthenticated: 401,
    e.AccountLocked: 429,
    e.Busy: 503,
    e.Unavailable: 503,
    e.TokenInvalid: 400,
    e.NotFound: 404,
    e.RateLimited: 429,
    e.MailNotSent: 503,
    e.PasskeyRefused: 401,
    e.PasskeyNotAdded: 400,
    e.PasskeyTaken: 409,
    e.CeremonyExpired: 400,
    e.SignUpClosed: 403,
    e.InviteRequired: 403,
    e.InviteInvalid: 403,
    e.InvalidCode: 401,
    e.ChallengeInvalid: 401,
    e.TwoFactorState: 409,
}


def status_for(exc: e.SigninError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def retry_headers(exc: Exception | None) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, e.RetryLater) else {}


def is_api(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return path.startswith("/api/") or path == "/healthz"


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    title = HTTPStatus(status).phrase
    body = {
        "type": PROBLEM_TYPE + (code or title.lower().replace(" ", "_")),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def error_page(
    request: Request, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    from signin.web.templating import render

    try:
        return render(
            request,
            "error.html",
            {"status": status, "title": HTTPStatus(status).phrase, "detail": detail},
            status_code=status,
            headers=dict(headers or {}),
        )
    except Exception:  # the error page itself must never fail
        log.exception("error page failed")
        return plain_error_response(request.scope, status, HTTPStatus(status).phrase, detail)


def plain_error_response(scope: Scope, status: int, title: str, detail: str) -> Response:
    if is_api(scope):
        return problem(status, detail)
    from html import escape

    return HTMLResponse(
        f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>"
        f"<p>{escape(detail)}</p>",
        status_code=status,
    )


def respond(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    if is_api(request.scope):
        return problem(status, detail, code=code, headers=headers, **extra)
    return error_page(request, status, detail, headers)


async def error_response(request: Request, exc: Exception) -> Response | None:
    """The answer for an exception a request raised, or None for a crash (answered as a 500).

    The one mapping: FastAPI's exception handlers call it (`install`), and so does the edge's
    dispatcher for the requests it answers ahead of the router (web/edge.py).
    """
    if isinstance(exc, e.SigninError):
        extra: dict[str, Any] = {}
        if isinstance(exc, e.InvalidInput):
            extra["errors"] = [
                {"code": p.code, "field": p.field, "detail": p.message} for p in exc.problems
            ]
        return respond(
            request,
            status_for(exc),
            exc.message,
            code=exc.code,
            headers=retry_headers(exc),
            **extra,
        )
    if isinstance(exc, StoreUnavailable):
        log.warning("store unavailable: %s", exc)
        return respond(
            request, 503, e.Unavailable().message, code="unavailable", headers={"Retry-After": "5"}
        )
    if isinstance(exc, RequestValidationError):
        errors = [
            {
                "code": err.get("type", "invalid"),
                "field": ".".join(str(part) for part in err.get("loc", ())[1:]),
                "detail": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        return respond(
            request, 422, "The request is not valid.", code="invalid_input", errors=errors
        )
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404:
            detail = "There is no page at this address."
        return respond(request, exc.status_code, detail, headers=exc.headers)
    return None


HANDLED = (e.SigninError, StoreUnavailable, RequestValidationError, HTTPException)


def install(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        response = await error_response(request, exc)
        if response is None:  # not reached: registered only for the classes it answers
            raise exc
        return response

    for cls in HANDLED:
        app.add_exception_handler(cls, handle)
