"""Errors as HTTP: one status table, pages for people, problem+json for programs.

API paths (`/api/...`, `/healthz`) answer RFC 9457 problem details; every other path an HTML page
without stack traces. Titles and details are in the reader's language (web/locale.py); the
`type` URIs and `code`s stay language-free, for programs.
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
from signin.i18n import N_
from signin.stores.base import StoreUnavailable
from signin.web.schema_errors import schema_errors

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


# The status phrases signin answers with, so that the catalogue has them (RFC 9110 wording).
TITLES = {
    400: N_("Bad Request"),
    401: N_("Unauthorized"),
    403: N_("Forbidden"),
    404: N_("Not Found"),
    405: N_("Method Not Allowed"),
    409: N_("Conflict"),
    413: N_("Content Too Large"),
    415: N_("Unsupported Media Type"),
    422: N_("Unprocessable Content"),
    429: N_("Too Many Requests"),
    431: N_("Request Header Fields Too Large"),
    500: N_("Internal Server Error"),
    503: N_("Service Unavailable"),
}


NOT_JSON = N_("The request body is not valid JSON.")
# FastAPI's and Starlette's own English details, said in the reader's language instead.
FRAMEWORK_DETAILS = {"There was an error parsing the body": NOT_JSON}


def title_of(status: int, request: Request | None = None) -> str:
    """The status phrase, in the reader's language when there is a request to ask."""
    phrase = HTTPStatus(status).phrase
    if request is None or status not in TITLES:
        return phrase
    from signin.web.locale import translator

    return translator(request).gettext(TITLES[status])


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
    title: str | None = None,
    **extra: Any,
) -> JSONResponse:
    # The type URI comes from the English phrase: it names the problem for programs in any
    # language; `title` may be the translated phrase.
    english = HTTPStatus(status).phrase
    title = title or english
    body = {
        "type": PROBLEM_TYPE + (code or english.lower().replace(" ", "_")),
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
            {"status": status, "title": title_of(status, request), "detail": detail},
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
        title = title_of(status, request)
        response = problem(status, detail, code=code, headers=headers, title=title, **extra)
        from signin.web.locale import translator

        response.headers["Content-Language"] = translator(request).html_lang
        response.headers["Vary"] = "Accept-Language, Cookie"
        return response
    return error_page(request, status, detail, headers)


async def error_response(request: Request, exc: Exception) -> Response | None:
    """The answer for an exception a request raised, or None for a crash (answered as a 500).

    The one mapping: FastAPI's exception handlers call it (`install`), and so does the edge's
    dispatcher for the requests it answers ahead of the router (web/edge.py).
    """
    from signin.web.locale import error_text, gettext, problem_text, translator

    if isinstance(exc, e.SigninError):
        extra: dict[str, Any] = {}
        if isinstance(exc, e.InvalidInput):
            speak = translator(request)
            extra["errors"] = [
                {"code": p.code, "field": p.field, "detail": problem_text(speak, p)}
                for p in exc.problems
            ]
        return respond(
            request,
            status_for(exc),
            error_text(request, exc),
            code=exc.code,
            headers=retry_headers(exc),
            **extra,
        )
    if isinstance(exc, StoreUnavailable):
        log.warning("store unavailable: %s", exc)
        return respond(
            request,
            503,
            error_text(request, e.Unavailable()),
            code="unavailable",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, RequestValidationError):
        problems = list(exc.errors())
        if any(error.get("type") == "json_invalid" for error in problems):
            return respond(request, 400, gettext(request, NOT_JSON))
        errors = schema_errors(translator(request), problems)
        detail = gettext(request, N_("The request is not valid."))
        return respond(request, 422, detail, code="invalid_input", errors=errors)
    if isinstance(exc, HTTPException):
        known = translator(request).known
        if exc.status_code == 404:
            detail = gettext(request, N_("There is no page at this address."))
        elif isinstance(exc.detail, str) and exc.detail in known:
            detail = gettext(request, exc.detail)  # our own details are catalogue entries (N_)
        elif isinstance(exc.detail, str) and exc.detail in FRAMEWORK_DETAILS:
            detail = gettext(request, FRAMEWORK_DETAILS[exc.detail])
        elif exc.status_code == 400:  # Starlette's English (a form it could not parse)
            detail = gettext(request, N_("The request could not be read."))
        else:
            detail = title_of(exc.status_code, request)
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
