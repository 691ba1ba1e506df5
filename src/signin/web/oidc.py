"""OpenID Connect pages: discovery, JWKS, the authorization endpoint and its consent page.

Thin: the decisions are accounts/oidc/provider.py's. A bad `client_id` or `redirect_uri` is an
error page and never a redirect; every later problem goes back to the registered redirect URI
(`iss` and `state` included), as a query or, with `response_mode=form_post`, an auto-submitted
form (web/static/js/form-post.js; a button without JavaScript).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from signin.accounts.factors.flow import STEP_UP_PATH
from signin.accounts.oidc.errors import ClientUnknown
from signin.accounts.oidc.provider import AskConsent, Decision, Respond
from signin.accounts.oidc.request import AuthRequest, RedirectError, read_request
from signin.i18n import N_
from signin.services import services_of
from signin.web.auth import current_session
from signin.web.errors import error_page
from signin.web.forms import read_form, see_other
from signin.web.locale import error_text, gettext
from signin.web.templating import render

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PUBLIC = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
MAX_GET_URL = 8000
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
Refusal = Callable[[str], Response]


def page_refusal(allow: str) -> Response:
    """A 405 as every page's error: the app's error handler answers it."""
    raise HTTPException(405, headers={"Allow": allow})


def refuse_other_methods(router: APIRouter, refusal: Refusal = page_refusal) -> None:
    """One more route per path of `router`, for the methods its routes do not take: 405 with an
    `Allow` that names the methods they do (RFC 9110 15.5.6). Call it once the routes are all
    declared. Without it Starlette answers with the first route whose path matches, naming that
    route's methods only (`Allow: OPTIONS` at the token endpoint, from the CORS preflight)."""
    allowed: dict[str, set[str]] = {}
    for route in router.routes:
        if isinstance(route, APIRoute):
            allowed.setdefault(route.path, set()).update(route.methods or ())
    for path, methods in allowed.items():
        others = [method for method in METHODS if method not in methods]
        router.add_api_route(path, _refuse(", ".join(sorted(methods)), refusal), methods=others)


def _refuse(allow: str, refusal: Refusal) -> Callable[[Request], Awaitable[Response]]:
    async def not_allowed(request: Request) -> Response:
        return refusal(allow)

    return not_allowed


def collect(items: list[tuple[str, str]]) -> tuple[dict[str, str], frozenset[str]]:
    """The parameters (first value of each) and the names given more than once."""
    params: dict[str, str] = {}
    repeated = set()
    for name, value in items:
        if name in params:
            repeated.add(name)
        else:
            params[name] = value
    return params, frozenset(repeated)


@router.api_route("/.well-known/openid-configuration", methods=["GET", "HEAD"])
async def configuration(request: Request) -> Response:
    return JSONResponse(services_of(request).oidc.metadata, headers=PUBLIC)


@router.api_route("/oidc/jwks", methods=["GET", "HEAD"])
async def jwks(request: Request) -> Response:
    return JSONResponse(services_of(request).oidc.keys.jwks(), headers=PUBLIC)


@router.get("/oidc/authorize")
async def authorize(request: Request) -> Response:
    params, repeated = collect(request.query_params.multi_items())
    return await _authorize(request, params, repeated)


@router.post("/oidc/authorize")
async def authorize_post(request: Request) -> Response:
    form = await request.form()
    items = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    params, repeated = collect(items)
    query = urlencode(items)
    if not repeated and len(query) < MAX_GET_URL:
        # A cross-site POST carries no SameSite=Lax session cookie; the GET it turns into does.
        return see_other("/oidc/authorize?" + query)
    return await _authorize(request, params, repeated)


async def _authorize(
    request: Request, params: dict[str, str], repeated: frozenset[str]
) -> Response:
    oidc = services_of(request).oidc
    try:
        auth = read_request(params, oidc.clients, repeated)
    except ClientUnknown as exc:
        oidc.authorizer.unknown_client(params)
        return error_page(request, 400, error_text(request, exc), NO_STORE)
    except RedirectError as exc:
        return respond(request, oidc.authorizer.redirect_error(exc))
    found = await current_session(request)
    return await act(request, await oidc.authorizer.decide(auth, found))


async def act(request: Request, decision: Decision) -> Response:
    """Carry out what the provider decided."""
    if isinstance(decision, Respond):
        return respond(request, decision)
    if isinstance(decision, AskConsent):
        return await consent_page(request, decision.request)
    redirects = services_of(request).redirects
    if not redirects.is_safe(decision.resume):
        detail = N_(
            "This sign-in request is too long or holds characters a sign-in link cannot carry."
        )
        return error_page(request, 400, gettext(request, detail), NO_STORE)
    path = STEP_UP_PATH if decision.step_up else "/sign-in"
    return see_other(redirects.sign_in_link(decision.resume, path))


def respond(request: Request, decision: Respond) -> Response:
    """The answer at the client's registered redirect URI."""
    auth = decision.request
    if auth.response_mode == "form_post":
        context = {"action": auth.redirect_uri, "fields": sorted(decision.params.items())}
        return render(request, "oidc/form_post.html", context, headers=NO_STORE)
    joiner = "&" if "?" in auth.redirect_uri else "?"
    url = auth.redirect_uri + joiner + urlencode(decision.params)
    return RedirectResponse(url, 303, headers=NO_STORE)


async def consent_page(request: Request, auth: AuthRequest) -> Response:
    services = services_of(request)
    found = await current_session(request)
    assert found is not None  # the provider asks for consent only of a signed-in user
    blob = services.oidc.consent_signer.dumps({"p": auth.params, "u": found.session.user_id})
    context = {
        "client": auth.client,
        "scopes": list(auth.scope),
        "username": found.username,
        "request_blob": blob,
    }
    return render(request, "oidc/consent.html", context, headers=NO_STORE)


@router.post("/oidc/consent")
async def consent(request: Request) -> Response:
    fields = await read_form(request)
    oidc = services_of(request).oidc
    found = await current_session(request)
    saved = oidc.consent_signer.loads(fields.get("request", ""))
    if saved is None or not isinstance(saved.get("p"), dict):
        detail = N_("This consent page has expired. Go back to the application and start again.")
        return error_page(request, 400, gettext(request, detail), NO_STORE)
    if found is not None and saved.get("u") != found.session.user_id:
        found = None  # answered by another account than the one asked: ask that one again
    params = {str(key): str(value) for key, value in saved["p"].items()}
    try:
        auth = read_request(params, oidc.clients)
    except ClientUnknown as exc:
        return error_page(request, 400, error_text(request, exc), NO_STORE)
    except RedirectError as exc:
        return respond(request, oidc.authorizer.redirect_error(exc))
    approved = fields.get("answer") == "allow"
    return await act(request, await oidc.authorizer.answer_consent(auth, found, approved))


refuse_other_methods(router)
