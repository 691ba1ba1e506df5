"""`/admin` (SPEC section 15): thin routes over `accounts/admin.Administration`.

Anyone who may not administer gets the plain 404 of an unknown page. Every action is a POST
with the CSRF token; the first POST shows a confirmation page, and only the second one, with
`confirm=1`, acts. The service records each action in the audit log with the admin's name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.admin import Administration, may_administer
from signin.accounts.audit import EVENT_TYPES
from signin.accounts.errors import SigninError
from signin.accounts.usernames import canon
from signin.i18n import N_
from signin.services import services_of
from signin.web.activity import describe, event_rows
from signin.web.auth import current_session
from signin.web.chart import svg
from signin.web.errors import status_for
from signin.web.forms import read_form, see_other
from signin.web.locale import error_text, gettext, translator
from signin.web.templating import render
from signin.web.useragent import describe_user_agent

router = APIRouter(prefix="/admin", include_in_schema=False)
USER_ACTIONS = {  # the question each action asks before it acts
    "disable": N_("Disable %(name)s?"),
    "enable": N_("Enable %(name)s?"),
    "delete": N_("Delete %(name)s?"),
    "reset_link": N_("Make a password-reset link for %(name)s?"),
    "groups": N_("Change the groups of %(name)s?"),
    "two_factor_reset": N_("Remove the second factor of %(name)s?"),
}
DONE = {
    "disable": N_("Account disabled; its sessions were ended."),
    "enable": N_("Account enabled."),
    "delete": N_("Account deleted."),
    "groups": N_("Groups changed."),
    "two_factor_reset": N_("Second factor removed."),
    "lock": N_("Lock cleared."),
    "session": N_("Session ended."),
}


async def admin_of(request: Request) -> tuple[str, Administration]:
    """The administrator's canon name and the service; 404 for anyone else."""
    services = services_of(request)
    found = await current_session(request)
    if found is None or not may_administer(found, services.settings.admin_require_2fa):
        raise HTTPException(404)
    return canon(found.username), services.admin


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    done = DONE.get(request.query_params.get("done", ""))
    if done:
        done = gettext(request, done)
    return render(
        request,
        f"admin/{template}",
        {"notice": done, **context},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def confirm(request: Request, action: str, question: str, fields: dict[str, str]) -> Response:
    kept = {k: v for k, v in fields.items() if k not in ("csrf_token", "confirm")}
    return page(request, "confirm.html", {"action": action, "question": question, "fields": kept})


@router.get("")
async def dashboard(request: Request) -> Response:
    _, admin = await admin_of(request)
    hourly = await admin.hourly()
    totals = {kind: sum(values) for kind, values in hourly.counts.items()}
    return page(
        request, "dashboard.html", {"chart": svg(hourly, translator(request)), "totals": totals}
    )


@router.get("/users")
async def users(request: Request) -> Response:
    _, admin = await admin_of(request)
    query = request.query_params.get("q", "")[:320]
    found = await admin.find_users(query)
    speak = translator(request)
    rows = [
        {
            "user": user,
            "created": speak.datetime(user.created_at),
            "groups": getattr(user, "groups", ()),
        }
        for user in found
    ]
    return page(request, "users.html", {"q": query, "rows": rows, "actions": USER_ACTIONS})


@router.post("/users/action")
async def user_action(request: Request) -> Response:
    name, admin = await admin_of(request)  # first: anyone else gets 404, not 403
    fields = await read_form(request)
    username, action = fields.get("username", "")[:128], fields.get("action", "")
    if action not in USER_ACTIONS:
        raise HTTPException(400, N_("Unknown action."))
    if fields.get("confirm") != "1":
        question = gettext(request, USER_ACTIONS[action], name=username)
        return confirm(request, "/admin/users/action", question, fields)
    try:
        if action in ("disable", "enable"):
            await admin.set_disabled(name, username, action == "disable")
        elif action == "delete":
            await admin.delete(name, username)
        elif action == "reset_link":
            token = await admin.reset_link(name, username)
            link = services_of(request).letters.link("/reset-password", token)
            return page(request, "reset_link.html", {"username": username, "link": link})
        elif action == "groups":
            await admin.set_groups(name, username, fields.get("groups", ""))
        else:
            await admin.remove_second_factor(name, username)
    except SigninError as exc:
        return page(request, "error.html", {"message": error_text(request, exc)}, status_for(exc))
    return see_other(f"/admin/users?done={action}")


@router.get("/locks")
async def locks(request: Request) -> Response:
    _, admin = await admin_of(request)
    return page(request, "locks.html", {"locks": await admin.locks()})


@router.post("/locks/clear")
async def clear_lock(request: Request) -> Response:
    name, admin = await admin_of(request)  # first: anyone else gets 404, not 403
    fields = await read_form(request)
    key = fields.get("key", "")[:200]
    if fields.get("confirm") != "1":
        question = gettext(request, N_("Clear the lock on %(key)s?"), key=key)
        return confirm(request, "/admin/locks/clear", question, fields)
    try:
        await admin.clear_lock(name, key)
    except SigninError as exc:
        return page(request, "error.html", {"message": error_text(request, exc)}, status_for(exc))
    return see_other("/admin/locks?done=lock")


@router.get("/sessions")
async def sessions(request: Request) -> Response:
    _, admin = await admin_of(request)
    username = request.query_params.get("user", "")[:128]
    try:
        found = await admin.sessions_list(username)
    except SigninError as exc:
        return page(request, "error.html", {"message": error_text(request, exc)}, status_for(exc))
    speak = translator(request)
    rows = [
        {
            "id": row.record.id,
            "username": row.username,
            "created": speak.datetime(row.record.created_at),
            "last_seen": speak.datetime(row.record.last_seen),
            "ip": row.record.ip or speak.gettext(N_("unknown")),
            "browser": describe_user_agent(row.record.user_agent, speak),
        }
        for row in found
    ]
    return page(request, "sessions.html", {"rows": rows, "filter_user": username})


@router.post("/sessions/end")
async def end_session(request: Request) -> Response:
    name, admin = await admin_of(request)  # first: anyone else gets 404, not 403
    fields = await read_form(request)
    username, session_id = fields.get("username", "")[:128], fields.get("session", "")[:64]
    if fields.get("confirm") != "1":
        question = gettext(request, N_("End this session of %(name)s?"), name=username)
        return confirm(request, "/admin/sessions/end", question, fields)
    try:
        await admin.end_session(name, username, session_id)
    except SigninError as exc:
        return page(request, "error.html", {"message": error_text(request, exc)}, status_for(exc))
    return see_other("/admin/sessions?done=session")


@router.get("/audit")
async def audit(request: Request) -> Response:
    _, admin = await admin_of(request)
    params = request.query_params
    username, kind = params.get("user", "")[:128], params.get("type", "")
    since = params.get("since", "")[:40]
    moment: float | None = None
    message = None
    if since:
        try:
            parsed = datetime.fromisoformat(since)
            moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        except ValueError:
            message = gettext(
                request, N_("The date is not an ISO date such as 2026-12-01 or 2026-12-01T08:00.")
            )
    types = (kind,) if kind in EVENT_TYPES else ()
    events = await admin.events(username, types, moment)
    speak = translator(request)
    context = {
        "rows": event_rows(speak, events),
        "filter_user": username,
        "type": kind if types else "",
        "since": since,
        "types": sorted(((t, describe(speak, t)) for t in EVENT_TYPES), key=lambda p: p[1]),
        "message": message,
    }
    return page(request, "audit.html", context, 422 if message else 200)


@router.get("/apps")
async def apps(request: Request) -> Response:
    """The OpenID Connect clients of `SIGNIN_OIDC_CLIENTS`, read-only (the file is the truth)."""
    await admin_of(request)
    clients = services_of(request).oidc.clients.values()
    return page(request, "apps.html", {"clients": sorted(clients, key=lambda c: c.id)})
