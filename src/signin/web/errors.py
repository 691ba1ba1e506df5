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
from signin.escape import escape_text
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
}


def status_for(exc: e.SigninError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def retry_headers(exc: Exception) -> dict[str, str]:
    retry = getattr(exc, "retry_after", None)
    return {"Retry-After": str(retry)} if retry is not None else {}


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


def install(app: FastAPI) -> None:
    @app.exception_handler(e.SigninError)
    async def _domain(request: Request, exc: e.SigninError) -> Response:
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

    @app.exception_handler(StoreUnavailable)
    async def _store(request: Request, exc: StoreUnavailable) -> Response:
        log.warning("store unavailable: %s", exc)
        return respond(
            request, 503, e.Unavailable().message, code="unavailable", headers={"Retry-After": "5"}
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404:
            detail = "There is no page at this address."
        return respond(request, exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
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

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.error(
            "unhandled error on %s %s: %s",
            request.method,
            escape_text(request.url.path),
            type(exc).__name__,
            exc_info=exc,
        )
        return respond(request, 500, "Something went wrong on our side. Please try again.")
