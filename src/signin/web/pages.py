"""HTML pages (SPEC section 3): routes translate forms into service calls and errors into pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.errors import InviteInvalid, InviteRequired, SigninError, SignUpClosed
from signin.accounts.factors.flow import STEP_UP_PATH, Pending
from signin.services import services_of
from signin.web.auth import (
    clear_pending_cookie,
    clear_session_cookie,
    client_ip,
    current_session,
    give_device_proof,
    presented_proofs,
    presented_token,
    set_pending_cookie,
    start_session,
)
from signin.web.errors import retry_headers, status_for
from signin.web.forms import (
    destination,
    error_context,
    is_basic,
    read_form,
    redirect_fields,
    see_other,
)
from signin.web.locale import error_text, remember_language, translator
from signin.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_INVITE = 128  # longer than any invite token: cut before it reaches the store


def form_error(
    request: Request, template: str, exc: SigninError, fields: dict[str, str], **context: Any
) -> Response:
    kept = {
        "username": fields.get("username", ""),
        "email": fields.get("email", ""),
        "remember": fields.get("remember", ""),
    }
    return render(
        request,
        template,
        {
            **error_context(request, exc),
            "form": kept,
            "redirect": redirect_fields(request, fields),
            "basic": is_basic(request, fields),
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
    invite = request.query_params.get("invite", "")[:MAX_INVITE]
    context: dict[str, Any] = {
        "redirect": redirect_fields(request),
        "basic": is_basic(request),
        "mode": services_of(request).settings.signup,
    }
    try:
        offered = await services_of(request).registration.offer(invite)
    except SigninError as exc:  # the mode refuses (closed, invite needed or not valid)
        context["refused"] = error_text(request, exc)
        # Explaining that an invite is needed is the page working; the others are refusals.
        status = 200 if isinstance(exc, InviteRequired) else status_for(exc)
        return render(request, "sign_up.html", context, status_code=status)
    if offered is not None:
        context.update(invite=invite, invite_email=offered.email)
    return render(request, "sign_up.html", context)


@router.post("/sign-up")
async def sign_up(request: Request) -> Response:
    fields = await read_form(request)
    services = services_of(request)
    invite = fields.get("invite", "")
    try:
        user = await services.registration.sign_up(
            fields.get("username", ""),
            fields.get("password", ""),
            fields.get("email", ""),
            invite=invite,
            welcome=True,
            ip=client_ip(request),
            language=translator(request).language,
        )
        response = see_other(destination(request, fields, "/welcome"))
        await start_session(request, response, user.id, remember=False)
        give_device_proof(request, response, user)  # signed in: the account's first browser
    except (SignUpClosed, InviteRequired, InviteInvalid) as exc:
        context = {"refused": error_text(request, exc), "mode": services.settings.signup}
        return form_error(request, "sign_up.html", exc, fields, **context)
    except SigninError as exc:
        return form_error(request, "sign_up.html", exc, fields, invite=invite, mode="")
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return render(
        request,
        "sign_in.html",
        {"redirect": redirect_fields(request), "basic": is_basic(request)},
    )


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    fields = await read_form(request)
    services = services_of(request)
    try:
        outcome = await services.sign_in_flow.password_step(
            fields.get("username", ""),
            fields.get("password", ""),
            client_ip(request),
            remember=bool(fields.get("remember")),
            proofs=presented_proofs(request),
            **redirect_fields(request, fields),
        )
        if isinstance(outcome, Pending):
            # The password was right but a second factor is due: no session yet.
            response = see_other(STEP_UP_PATH)
            set_pending_cookie(request, response, outcome.challenge)
            return response
        response = see_other(destination(request, fields, "/welcome"))
        await start_session(request, response, outcome.user.id, remember=outcome.remember)
        await remember_language(request, outcome.user)
        give_device_proof(request, response, outcome.user)
        clear_pending_cookie(request, response)
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
