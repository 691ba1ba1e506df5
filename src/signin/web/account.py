"""The account page (SPEC section 3): email state, sessions, password change.

Its router also carries the token pages of `web/reset.py`, so the app includes one router.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.errors import SigninError
from signin.services import services_of
from signin.stores.base import SessionRecord, SessionUser
from signin.web import reset, unlock
from signin.web.auth import clear_session_cookie, client_ip, current_session
from signin.web.errors import retry_headers, status_for
from signin.web.forms import error_context, is_basic, read_form, require_session, see_other
from signin.web.templating import render
from signin.web.useragent import describe_user_agent

router = APIRouter(include_in_schema=False)
router.include_router(reset.router)
router.include_router(unlock.router)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- the account page --------------------------------------------------------------------


def _session_rows(sessions: list[SessionRecord], current_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": record.id,
            "created": _when(record.created_at),
            "last_seen": _when(record.last_seen),
            "ip": record.ip or "unknown",
            "browser": describe_user_agent(record.user_agent),
            "user_agent": record.user_agent or "",
            "current": record.id == current_id,
        }
        for record in sessions
    ]


async def account_page(
    request: Request,
    found: SessionUser,
    *,
    status_code: int = 200,
    exc: SigninError | None = None,
    notice: str | None = None,
    basic: bool = False,
) -> Response:
    services = services_of(request)
    user = await services.account.user(found.session.user_id)
    sessions = await services.account.list_sessions(user.id)
    passkeys = await services.passkeys.list(user.id)
    apps = await services.oidc.resources.apps(user.id)
    return render(
        request,
        "account.html",
        {
            "account": user,
            "username": user.username,
            "sessions": _session_rows(sessions, found.session.id),
            "passkeys": [
                {
                    "id": p.id,
                    "name": p.name,
                    "added": _when(p.created_at),
                    "last_used": _when(p.last_used_at) if p.last_used_at is not None else "never",
                }
                for p in passkeys
            ],
            "apps": [
                {
                    "client_id": app.client_id,
                    "name": app.name,
                    "scope": app.scope,
                    "since": _when(app.since),
                    "grants": app.grants,
                }
                for app in apps
            ],
            "notice": notice,
            **error_context(exc),
            "basic": basic,
        },
        status_code=status_code,
        headers=retry_headers(exc),
    )


@router.get("/account")
async def account(request: Request) -> Response:
    found = await current_session(request)
    if found is None:
        return see_other("/sign-in?" + services_of(request).redirects.query("/account"))
    return await account_page(request, found, basic=is_basic(request))


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    fields = await read_form(request)
    found = await require_session(request)
    try:
        await services_of(request).account.change_password(
            found.session.user_id,
            found.session.id,
            fields.get("current_password", ""),
            fields.get("password", ""),
            ip=client_ip(request),
        )
    except SigninError as exc:
        return await account_page(
            request,
            found,
            status_code=status_for(exc),
            exc=exc,
            basic=is_basic(request, fields),
        )
    return see_other("/account")


@router.post("/account/sessions/end")
async def end_sessions(request: Request) -> Response:
    fields = await read_form(request)
    found = await require_session(request)
    services = services_of(request)
    if fields.get("others") == "1":
        await services.account.end_others(found.session.user_id, found.session.id)
    elif fields.get("session"):
        await services.account.end_session(found.session.user_id, fields["session"])
        if fields["session"] == found.session.id:
            response = see_other("/account")
            clear_session_cookie(request, response)
            return response
    return see_other("/account")


@router.post("/account/verify-email")
async def resend_verification(request: Request) -> Response:
    fields = await read_form(request)
    found = await require_session(request)
    services = services_of(request)
    user = await services.account.user(found.session.user_id)
    basic = is_basic(request, fields)
    try:
        sent = await services.verification.send(user)
    except SigninError as exc:
        return await account_page(request, found, status_code=status_for(exc), exc=exc, basic=basic)
    notice = (
        f"We sent a new confirmation link to {user.email}."
        if sent
        else "There is no address waiting for confirmation."
    )
    return await account_page(request, found, notice=notice, basic=basic)
