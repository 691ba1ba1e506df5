"""Token pages (SPEC section 3): forgot password, reset by link, email verification.

A reset link's token leaves the URL at once: `GET /reset-password?token=` checks it, keeps it in
a short-lived HttpOnly cookie and answers 303 to `/reset-password`, whose form carries it in a
hidden field. These pages send `Referrer-Policy: no-referrer` (web/security.py).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.errors import SigninError, TokenInvalid
from signin.i18n import N_
from signin.services import services_of
from signin.web.auth import clear_session_cookie, client_ip, current_session, give_device_proof
from signin.web.cookies import delete_cookie, read_cookie, set_cookie
from signin.web.errors import retry_headers, status_for
from signin.web.forms import error_context, is_basic, read_form, see_other
from signin.web.locale import error_text, gettext
from signin.web.templating import render

router = APIRouter(include_in_schema=False)
RESET_COOKIE = "reset"
RESET_COOKIE_SECONDS = 900


def token_error(request: Request, exc: TokenInvalid, *, again: str, again_label: str) -> Response:
    """400 with the reason and a way to get a fresh link."""
    return render(
        request,
        "token_invalid.html",
        {
            "detail": error_text(request, exc),
            "again": again,
            "again_label": gettext(request, again_label),
        },
        status_code=status_for(exc),
    )


# -- forgot password ---------------------------------------------------------------------


@router.get("/forgot-password")
async def forgot_page(request: Request) -> Response:
    return render(request, "forgot_password.html", {"sent": False})


@router.post("/forgot-password")
async def forgot(request: Request) -> Response:
    fields = await read_form(request)
    login = fields.get("login", "")
    try:
        await services_of(request).resets.request(login, client_ip(request))
    except SigninError as exc:
        return render(
            request,
            "forgot_password.html",
            {"sent": False, **error_context(request, exc), "form": {"login": login}},
            status_code=status_for(exc),
            headers=retry_headers(exc),
        )
    # The login is not echoed: the answer must be the same page for every login.
    return render(request, "forgot_password.html", {"sent": True})


# -- reset by link -----------------------------------------------------------------------


async def _signed_in_id(request: Request) -> int | None:
    found = await current_session(request)
    return found.session.user_id if found is not None else None


def _forgot_again(request: Request, exc: TokenInvalid) -> Response:
    return token_error(request, exc, again="/forgot-password", again_label=N_("Ask for a new link"))


@router.get("/reset-password")
async def reset_page(request: Request) -> Response:
    services = services_of(request)
    from_url = request.query_params.get("token")
    token = from_url or read_cookie(request, services.settings, RESET_COOKIE) or ""
    try:
        found = await services.resets.check(token, user_id=await _signed_in_id(request))
    except TokenInvalid as exc:
        refused = _forgot_again(request, exc)
        delete_cookie(refused, request, services.settings, RESET_COOKIE)
        return refused
    if from_url:
        # Out of the address bar, history and any Referer before the page loads a thing.
        left = int(found.expires_at - services.clock())
        target = "/reset-password" + ("?basic=1" if is_basic(request) else "")
        response = see_other(target)
        set_cookie(
            response,
            request,
            services.settings,
            RESET_COOKIE,
            token,
            max_age=max(1, min(left, RESET_COOKIE_SECONDS)),
        )
        return response
    return _reset_form(request, token, found.user.username, basic=is_basic(request))


def _reset_form(
    request: Request,
    token: str,
    username: str,
    *,
    basic: bool,
    status_code: int = 200,
    exc: SigninError | None = None,
) -> Response:
    return render(
        request,
        "reset_password.html",
        {"token": token, "username": username, "basic": basic, **error_context(request, exc)},
        status_code=status_code,
        headers=retry_headers(exc),
    )


@router.post("/reset-password")
async def reset(request: Request) -> Response:
    fields = await read_form(request)
    services = services_of(request)
    token = fields.get("token") or read_cookie(request, services.settings, RESET_COOKIE) or ""
    user_id = await _signed_in_id(request)
    try:
        user = await services.resets.reset(
            token,
            fields.get("password", ""),
            ip=client_ip(request),
            user_id=user_id,
            username=fields.get("username") or None,
        )
    except TokenInvalid as exc:
        return _forgot_again(request, exc)
    except SigninError as exc:
        try:
            found = await services.resets.check(token, user_id=user_id)
        except TokenInvalid as gone:
            return _forgot_again(request, gone)
        return _reset_form(
            request,
            token,
            found.user.username,
            basic=is_basic(request, fields),
            status_code=status_for(exc),
            exc=exc,
        )
    response = see_other("/sign-in")
    delete_cookie(response, request, services.settings, RESET_COOKIE)
    clear_session_cookie(request, response)
    give_device_proof(request, response, user)  # SPEC 5a: the owner just proved the mailbox
    return response


# -- email verification ------------------------------------------------------------------


@router.get("/verify-email")
async def verify_email(request: Request) -> Response:
    services = services_of(request)
    signed_in = await _signed_in_id(request)
    try:
        user = await services.verification.confirm(
            request.query_params.get("token", ""), user_id=signed_in
        )
    except TokenInvalid as exc:
        # A fresh link is sent from the account page, behind sign-in.
        again = "/account" if signed_in else "/sign-in?" + services.redirects.query("/account")
        return token_error(request, exc, again=again, again_label=N_("Send a new link"))
    if signed_in is not None:
        return see_other("/account")
    return render(request, "verify_email.html", {"email": user.email, "username": user.username})
