"""RP-initiated logout (`end_session_endpoint`) and the account page's "remove access".

Logout ends signin's session at once when `id_token_hint` names the signed-in user; otherwise
the browser confirms first (a CSRF-protected POST), so no other site can sign anyone out. The
return address is followed only when it exactly matches one the client registered.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signin.accounts.oidc.errors import ClientUnknown
from signin.accounts.oidc.logout import LogoutPlan, plan_logout
from signin.services import services_of
from signin.web.auth import clear_session_cookie, current_session, presented_token
from signin.web.errors import error_page
from signin.web.forms import read_form, require_session, see_other
from signin.web.locale import error_text
from signin.web.oidc import NO_STORE, collect, refuse_other_methods
from signin.web.templating import render

router = APIRouter(include_in_schema=False)
KEPT = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")


@router.get("/oidc/logout")
async def logout(request: Request) -> Response:
    params, _ = collect(request.query_params.multi_items())
    return await _logout(request, params, confirmed=False)


@router.post("/oidc/logout")
async def logout_post(request: Request) -> Response:
    form = await request.form()
    params, _ = collect([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    confirmed = params.get("confirm") == "1"
    if confirmed:
        await read_form(request)  # the confirm button's post: 403 without this browser's token
    return await _logout(request, params, confirmed=confirmed)


async def _logout(request: Request, params: dict[str, str], *, confirmed: bool) -> Response:
    services = services_of(request)
    oidc = services.oidc
    try:
        plan = plan_logout(params, oidc.keys, oidc.clients, oidc.issuer)
    except ClientUnknown as exc:
        return error_page(request, 400, error_text(request, exc), NO_STORE)
    found = await current_session(request)
    if found is not None and not confirmed:
        sub = await oidc.subject(found.session.user_id)
        if plan.hint_sub != sub:
            fields = [(name, params[name]) for name in KEPT if params.get(name)]
            context = {"client": plan.client, "username": found.username, "fields": fields}
            return render(request, "oidc/logout.html", context, headers=NO_STORE)
    return await _finish(request, plan, ended=found is not None)


async def _finish(request: Request, plan: LogoutPlan, *, ended: bool) -> Response:
    response: Response
    if plan.redirect is not None:
        response = RedirectResponse(plan.redirect, 303, headers=NO_STORE)
    else:
        response = render(request, "oidc/logout.html", {"done": True}, headers=NO_STORE)
    if ended:
        token = presented_token(request)
        if token:
            await services_of(request).sessions.end(token)
        clear_session_cookie(request, response)
    return response


@router.post("/account/apps/revoke")
async def revoke_app(request: Request) -> Response:
    fields = await read_form(request)
    found = await require_session(request)
    client_id = fields.get("client", "")[:64]
    if client_id:
        await services_of(request).oidc.authorizer.withdraw(
            found.session.user_id, found.username, client_id
        )
    return see_other("/account#apps")


refuse_other_methods(router)
