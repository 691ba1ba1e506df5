"""HTML pages (SPEC section 3): routes translate forms into service calls and errors into pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signin.accounts.errors import InvalidInput, SigninError
from signin.escape import has_control
from signin.web.auth import (
    clear_session_cookie,
    client_ip,
    current_session,
    presented_token,
    start_session,
)
from signin.web.errors import retry_headers, status_for
from signin.web.templating import CSRF_FIELD, csrf_valid, render, services_of

router = APIRouter(include_in_schema=False)
MAX_FIELD = 4096


async def read_form(request: Request) -> dict[str, str]:
    """The submitted fields as strings; 403 unless the CSRF token matches this browser."""
    form = await request.form()
    fields = {key: value[: MAX_FIELD * 4] for key, value in form.items() if isinstance(value, str)}
    if not csrf_valid(request, fields.get(CSRF_FIELD)):
        raise HTTPException(
            403,
            "This form has expired or did not come from this site. "
            "Go back, reload the page and try again.",
        )
    # No name, address or token holds a control character; PostgreSQL cannot even store a NUL
    # (SPEC section 16). Passwords are only ever hashed, so they keep what was typed.
    if any(has_control(value) for key, value in fields.items() if "password" not in key):
        raise HTTPException(422, "A field holds a control character. Please retype it.")
    return fields


def redirect_fields(request: Request, fields: dict[str, str] | None = None) -> dict[str, str]:
    """`next`/`sig` to carry through a form, kept only when they verify."""
    source: Any = fields if fields is not None else request.query_params
    target, sig = source.get("next", ""), source.get("sig", "")
    policy = services_of(request).redirects
    if target and policy.verified(target, sig, "") == target:
        return {"next": target, "sig": sig}
    return {}


def destination(request: Request, fields: dict[str, str], default: str) -> str:
    return services_of(request).redirects.verified(fields.get("next"), fields.get("sig"), default)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def form_error(
    request: Request, template: str, exc: SigninError, fields: dict[str, str], **context: Any
) -> Response:
    problems: dict[str, str] = {}
    if isinstance(exc, InvalidInput):
        for item in exc.problems:  # every problem at once, several per field joined
            problems[item.field] = " ".join(filter(None, [problems.get(item.field), item.message]))
    kept = {
        "username": fields.get("username", ""),
        "email": fields.get("email", ""),
        "remember": fields.get("remember", ""),
    }
    return render(
        request,
        template,
        {
            "message": None if problems else exc.message,
            "problems": problems,
            "form": kept,
            "redirect": redirect_fields(request, fields),
            "basic": fields.get("basic") == "1",
            **context,
        },
        status_code=status_for(exc),
        headers=retry_headers(exc),
    )


@router.get("/")
async def home(request: Request) -> Response:
    return see_other("/welcome" if await current_session(request) else "/sign-in")


@router.get("/sign-up")
async def sign_up_page(request: Request) -> Response:
    return render(
        request,
        "sign_up.html",
        {"redirect": redirect_fields(request), "basic": request.query_params.get("basic") == "1"},
    )


@router.post("/sign-up")
async def sign_up(request: Request) -> Response:
    fields = await read_form(request)
    services = services_of(request)
    try:
        user = await services.registration.sign_up(
            fields.get("username", ""),
            fields.get("password", ""),
            fields.get("email", ""),
            ip=client_ip(request),
        )
        response = see_other(destination(request, fields, "/welcome"))
        await start_session(request, response, user.id, remember=False)
    except SigninError as exc:
        return form_error(request, "sign_up.html", exc, fields)
    for hook in services.extras.get("after_sign_up", []):
        await hook(user)
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return render(
        request,
        "sign_in.html",
        {"redirect": redirect_fields(request), "basic": request.query_params.get("basic") == "1"},
    )


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    fields = await read_form(request)
    services = services_of(request)
    try:
        user = await services.authenticator.sign_in(
            fields.get("username", ""), fields.get("password", ""), client_ip(request)
        )
        response = see_other(destination(request, fields, "/welcome"))
        await start_session(request, response, user.id, remember=bool(fields.get("remember")))
    except SigninError as exc:
        return form_error(request, "sign_in.html", exc, fields)
    return response


@router.get("/sign-out")
async def sign_out_page(request: Request) -> Response:
    return render(
        request,
        "sign_out.html",
        {"redirect": redirect_fields(request), "signed_in": await current_session(request)},
    )


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    fields = await read_form(request)
    token = presented_token(request)
    if token:
        await services_of(request).sessions.end(token)
    response = see_other(destination(request, fields, "/sign-in"))
    clear_session_cookie(request, response)
    return response


@router.get("/welcome")
async def welcome(request: Request) -> Response:
    found = await current_session(request)
    if found is None:
        return see_other("/sign-in?" + services_of(request).redirects.query("/welcome"))
    return render(request, "welcome.html", {"username": found.username})
