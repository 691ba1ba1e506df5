"""Second-factor routes (SPEC 13): the sign-in step, the account page, and the API step.

Thin: each route reads its input, calls `SignInFlow` or `TwoFactor`, and renders. The pending
step lives in its own signed cookie (web/auth.py, `PENDING_COOKIE`), never in a session.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.errors import ChallengeInvalid, SigninError
from signin.accounts.factors.flow import STEP_UP_PATH, SignedIn
from signin.services import services_of
from signin.stores.base import SessionUser, UserRecord
from signin.web.api import PROBLEM, JsonRoute, SessionCreated, session_response
from signin.web.auth import (
    clear_pending_cookie,
    client_ip,
    current_session,
    give_device_proof,
    pending_challenge,
    presented_proofs,
    start_session,
)
from signin.web.errors import retry_headers, status_for
from signin.web.forms import destination, is_basic, read_form, redirect_fields, see_other
from signin.web.locale import error_text, remember_language
from signin.web.templating import render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["api"], route_class=JsonRoute)
MANAGE_PATH = "/account/two-factor"


# -- the second sign-in step (and step-up) -------------------------------------------------


def _step_page(
    request: Request,
    *,
    mode: str,
    redirect: dict[str, str] | None = None,
    exc: SigninError | None = None,
) -> Response:
    context: dict[str, Any] = {
        "mode": mode,
        "redirect": redirect or {},
        "message": error_text(request, exc) if exc else None,
    }
    if mode == "pending":  # the account has passkeys: one may answer the step (SPEC 14)
        state = services_of(request).sign_in_flow.peek(pending_challenge(request) or "")
        context["passkey"] = state is not None and "passkey" in state.get("m", ())
    return _page(request, "two_factor.html", context, exc)


def _page(
    request: Request, template: str, context: dict[str, Any], exc: SigninError | None
) -> Response:
    """A page of this flow: 200, or the status (and Retry-After) of the error it shows."""
    status = status_for(exc) if exc else 200
    return render(request, template, context, status_code=status, headers=retry_headers(exc))


async def _weak_session(request: Request) -> SessionUser | None:
    found = await current_session(request)
    return found if found is not None and not found.session.two_factor else None


@router.get(STEP_UP_PATH)
async def second_step_page(request: Request) -> Response:
    services = services_of(request)
    if services.sign_in_flow.peek(pending_challenge(request) or "") is not None:
        return _step_page(request, mode="pending")
    found = await current_session(request)
    redirect = redirect_fields(request)
    if found is None:
        query = services.redirects.query(redirect["next"]) if redirect else ""
        return see_other("/sign-in" + (f"?{query}" if query else ""))
    if found.session.two_factor:
        return see_other(destination(request, redirect, "/welcome"))
    if not await services.sign_in_flow.can_step_up(found.session.user_id):
        return _step_page(request, mode="unavailable", redirect=redirect)
    return _step_page(request, mode="step-up", redirect=redirect)


@router.post(STEP_UP_PATH)
async def second_step(request: Request) -> Response:
    fields = await read_form(request)
    services = services_of(request)
    challenge = pending_challenge(request)
    code, ip = fields.get("code", ""), client_ip(request)
    if challenge:
        try:
            done = await services.sign_in_flow.complete(challenge, code, ip)
        except ChallengeInvalid as exc:
            response = _step_page(request, mode="expired", exc=exc)
            clear_pending_cookie(request, response)
            return response
        except SigninError as exc:
            return _step_page(request, mode="pending", exc=exc)
        response = see_other(destination(request, {"next": done.next, "sig": done.sig}, "/welcome"))
        await _strong_session(request, response, done)
        clear_pending_cookie(request, response)
        return response
    found = await _weak_session(request)
    redirect = redirect_fields(request, fields)
    if found is None:
        return see_other(destination(request, fields, "/welcome"))
    try:
        user = await services.sign_in_flow.step_up(
            found.session.user_id, code, ip, proofs=presented_proofs(request)
        )
    except SigninError as exc:
        return _step_page(request, mode="step-up", redirect=redirect, exc=exc)
    response = see_other(destination(request, fields, "/welcome"))
    # start_session ends the password-only session the browser presented.
    await _strong_session(request, response, SignedIn(user, True, found.session.remember, "", ""))
    return response


async def _strong_session(request: Request, response: Response, done: SignedIn) -> None:
    await start_session(request, response, done.user.id, remember=done.remember, two_factor=True)
    await remember_language(request, done.user)
    give_device_proof(request, response, done.user)  # SPEC 5a: a completed sign-in


# -- the account's two-factor page ---------------------------------------------------------


async def _manage_page(
    request: Request,
    found: SessionUser,
    *,
    codes: list[str] | None = None,
    exc: SigninError | None = None,
    notice: str | None = None,
    fields: dict[str, str] | None = None,
) -> Response:
    services = services_of(request)
    user = await services.account.user(found.session.user_id)
    status = await services.two_factor.status(user)
    context: dict[str, Any] = {
        "username": user.username,
        "status": status,
        "codes": codes,
        "notice": notice,
        "message": error_text(request, exc) if exc else None,
        "basic": is_basic(request, fields),
    }
    return _page(request, "account_two_factor.html", context, exc)


async def _signed_in(request: Request) -> SessionUser | Response:
    found = await current_session(request)
    if found is None:
        return see_other("/sign-in?" + services_of(request).redirects.query(MANAGE_PATH))
    return found


async def _manage_form(
    request: Request,
) -> tuple[SessionUser, UserRecord, dict[str, str]] | Response:
    """A POST to the manage page: its form, session and user, or where to send the visitor."""
    fields = await read_form(request)
    found = await _signed_in(request)
    if isinstance(found, Response):
        return found
    return found, await services_of(request).account.user(found.session.user_id), fields


@router.get(MANAGE_PATH)
async def manage(request: Request) -> Response:
    found = await _signed_in(request)
    if isinstance(found, Response):
        return found
    return await _manage_page(request, found)


@router.post(MANAGE_PATH + "/begin")
async def begin(request: Request) -> Response:
    await read_form(request)
    found = await _signed_in(request)
    if isinstance(found, Response):
        return found
    services = services_of(request)
    try:
        await services.two_factor.begin(await services.account.user(found.session.user_id))
    except SigninError as exc:
        return await _manage_page(request, found, exc=exc)
    return see_other(MANAGE_PATH)


@router.post(MANAGE_PATH + "/confirm")
async def confirm(request: Request) -> Response:
    form = await _manage_form(request)
    if isinstance(form, Response):
        return form
    found, user, fields = form
    try:
        codes = await services_of(request).two_factor.confirm(user, fields.get("code", ""))
    except SigninError as exc:
        return await _manage_page(request, found, exc=exc)
    return await _manage_page(request, found, codes=codes)


@router.post(MANAGE_PATH + "/disable")
async def disable(request: Request) -> Response:
    form = await _manage_form(request)
    if isinstance(form, Response):
        return form
    found, user, fields = form
    try:
        await services_of(request).two_factor.disable(user, **_proof(request, fields))
    except SigninError as exc:
        return await _manage_page(request, found, exc=exc, fields=fields)
    return see_other(MANAGE_PATH + ("?basic=1" if is_basic(request, fields) else ""))


@router.post(MANAGE_PATH + "/recovery-codes")
async def renew_codes(request: Request) -> Response:
    form = await _manage_form(request)
    if isinstance(form, Response):
        return form
    found, user, fields = form
    try:
        codes = await services_of(request).two_factor.renew_codes(user, **_proof(request, fields))
    except SigninError as exc:
        return await _manage_page(request, found, exc=exc, fields=fields)
    return await _manage_page(request, found, codes=codes, fields=fields)


def _proof(request: Request, fields: dict[str, str]) -> dict[str, Any]:
    return {
        "code": fields.get("code", ""),
        "password": fields.get("current_password", ""),
        "ip": client_ip(request),
    }


# -- the API step --------------------------------------------------------------------------


class SecondStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str = Field(max_length=2048, description="from the 202 of POST /api/v1/session")
    code: str = Field(max_length=64, description="a current TOTP code or a recovery code")
    remember: bool | None = None


@api_router.post(
    "/session/two-factor",
    status_code=201,
    response_model=SessionCreated,
    responses={401: PROBLEM, 415: PROBLEM, 422: PROBLEM, 429: PROBLEM},
)
async def api_second_step(body: SecondStepIn, request: Request) -> Response:
    done = await services_of(request).sign_in_flow.complete(
        body.challenge, body.code, client_ip(request), remember=body.remember
    )
    return await session_response(request, done)
