"""`/account/activity` (SPEC section 15): the signed-in user's own last 50 audit events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.audit import AuditEvent, AuditQuery
from signin.accounts.usernames import canon
from signin.services import services_of
from signin.web.auth import current_session
from signin.web.forms import see_other
from signin.web.templating import render
from signin.web.useragent import describe_user_agent

router = APIRouter(include_in_schema=False)
SHOWN = 50

WHAT = {
    "sign_up": "Account created",
    "sign_in": "Signed in",
    "sign_in_failed": "Failed sign-in attempt",
    "sign_in_locked": "Sign-in refused: too many failed attempts",
    "two_factor_required": "Right password; second step asked for",
    "sign_out": "Signed out",
    "session_ended": "Session ended",
    "password_changed": "Password changed",
    "password_reset_requested": "Password reset requested",
    "password_reset": "Password reset by email link",
    "email_verified": "Email address confirmed",
    "two_factor_enabled": "Two-step verification turned on",
    "two_factor_disabled": "Two-step verification turned off",
    "recovery_code_used": "Recovery code used",
    "passkey_added": "Passkey added",
    "passkey_removed": "Passkey removed",
    "device_unlocked": "Device unlocked",
    "user_created": "Account created by an administrator",
    "user_disabled": "Account disabled by an administrator",
    "user_enabled": "Account enabled by an administrator",
    "groups_changed": "Groups changed by an administrator",
    "user_deleted": "Account deleted",
    "lock_cleared": "Sign-in lock lifted by an administrator",
    "invite_created": "Invitation created",
    "access_denied": "Access denied",
    "oidc_consent_given": "Access given to an app",
    "oidc_consent_revoked": "Access withdrawn from an app",
    "oidc_token_issued": "An app signed you in",
    "oidc_token_refreshed": "An app renewed its access",
    "oidc_token_revoked": "An app's access ended",
    "oidc_request_refused": "An app's sign-in request was refused",
}


def describe(event: AuditEvent) -> str:
    return WHAT.get(event.type, event.type.replace("_", " ").capitalize())


def event_rows(events: list[AuditEvent]) -> list[dict[str, Any]]:
    return [
        {
            "when": datetime.fromtimestamp(event.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "type": event.type,
            "what": describe(event),
            "ip": event.ip or "",
            "browser": describe_user_agent(event.user_agent) if event.user_agent else "",
            "user_agent": event.user_agent or "",
            "username": event.username or "",
            "details": ", ".join(f"{key}={value}" for key, value in event.details.items()),
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
        {"username": found.username, "events": event_rows(events), "shown": SHOWN},
    )
