"""`/account/activity` (SPEC section 15): the signed-in user's own last 50 audit events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.audit import AuditEvent, AuditQuery, Detail
from signin.accounts.usernames import canon
from signin.i18n import N_
from signin.i18n.catalogs import Translator
from signin.services import services_of
from signin.web.auth import current_session
from signin.web.forms import see_other
from signin.web.locale import translator
from signin.web.templating import render
from signin.web.useragent import describe_user_agent

router = APIRouter(include_in_schema=False)
SHOWN = 50

WHAT = {
    "sign_up": N_("Account created"),
    "sign_in": N_("Signed in"),
    "sign_in_failed": N_("Failed sign-in attempt"),
    "sign_in_locked": N_("Sign-in refused: too many failed attempts"),
    "two_factor_required": N_("Right password; second step asked for"),
    "sign_out": N_("Signed out"),
    "session_ended": N_("Session ended"),
    "password_changed": N_("Password changed"),
    "password_reset_requested": N_("Password reset requested"),
    "password_reset": N_("Password reset by email link"),
    "email_verified": N_("Email address confirmed"),
    "two_factor_enabled": N_("Two-step verification turned on"),
    "two_factor_disabled": N_("Two-step verification turned off"),
    "recovery_code_used": N_("Recovery code used"),
    "passkey_added": N_("Passkey added"),
    "passkey_removed": N_("Passkey removed"),
    "device_unlocked": N_("Device unlocked"),
    "user_created": N_("Account created by an administrator"),
    "user_disabled": N_("Account disabled by an administrator"),
    "user_enabled": N_("Account enabled by an administrator"),
    "groups_changed": N_("Groups changed by an administrator"),
    "user_deleted": N_("Account deleted"),
    "lock_cleared": N_("Sign-in lock lifted by an administrator"),
    "invite_created": N_("Invitation created"),
    "access_denied": N_("Access denied"),
    "oidc_consent_given": N_("Access given to an app"),
    "oidc_consent_revoked": N_("Access withdrawn from an app"),
    "oidc_token_issued": N_("An app signed you in"),
    "oidc_token_refreshed": N_("An app renewed its access"),
    "oidc_token_revoked": N_("An app's access ended"),
    "oidc_request_refused": N_("An app's sign-in request was refused"),
}


# What each detail of an event is called; a key not named here is shown as words.
DETAIL = {
    "by": N_("By"),
    "client": N_("App"),
    "during": N_("Step"),
    "error": N_("Error"),
    "grant": N_("Grant type"),
    "groups": N_("Groups"),
    "host": N_("Host"),
    "invite": N_("Invite"),
    "key": N_("Key"),
    "left": N_("Recovery codes left"),
    "link": N_("Reset link"),
    "mailed": N_("Email sent"),
    "name": N_("Name"),
    "passkey": N_("Passkey"),
    "path": N_("Path"),
    "scope": N_("May see"),
    "session": N_("Session"),
    "sessions": N_("Sessions ended"),
    "sessions_ended": N_("Sessions ended"),
    "step": N_("Step"),
    "step_up": N_("Second factor asked again"),
    "two_factor": N_("Second factor"),
}


def describe(speak: Translator, kind: str) -> str:
    """An event type in words ("Failed sign-in attempt"), never its code (`sign_in_failed`)."""
    known = WHAT.get(kind)
    return speak.gettext(known) if known else kind.replace("_", " ").capitalize()


def detail_pairs(speak: Translator, details: dict[str, Detail]) -> list[tuple[str, str]]:
    """An event's details as (label, value) in the reader's language; an empty one left out."""
    pairs = []
    for key, value in details.items():
        if value is None or value == "":
            continue
        label = DETAIL.get(key)
        said = speak.gettext(label) if label else key.replace("_", " ").capitalize()
        if isinstance(value, bool):
            shown = speak.gettext(N_("yes") if value else N_("no"))
        else:
            shown = str(value)
        pairs.append((said, shown))
    return pairs


def event_rows(speak: Translator, events: list[AuditEvent]) -> list[dict[str, Any]]:
    return [
        {
            "when": speak.datetime(event.at),
            "type": event.type,
            "what": describe(speak, event.type),
            "ip": event.ip or "",
            "browser": describe_user_agent(event.user_agent, speak) if event.user_agent else "",
            "user_agent": event.user_agent or "",
            "username": event.username or "",
            "details": detail_pairs(speak, event.details),
        }
        for event in events
    ]


@router.get("/account/activity")
async def activity(request: Request) -> Response:
    found = await current_session(request)
    services = services_of(request)
    if found is None:
        return see_other("/sign-in?" + services.redirects.query("/account/activity"))
    events = await services.audit.query(AuditQuery(username=canon(found.username), limit=SHOWN))
    return render(
        request,
        "activity.html",
        {
            "username": found.username,
            "events": event_rows(translator(request), events),
            "shown": SHOWN,
        },
    )
