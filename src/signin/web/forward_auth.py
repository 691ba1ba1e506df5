"""Forward-auth (SPEC section 8, `GET /api/v1/verify`) for nginx, Traefik and Caddy.

The proxy asks, for every request to a protected app, whether its cookie (or Bearer token) is
a live session. Signed in: 200 with `Remote-User` (and `Remote-Email` when that address is
verified), which the proxy copies onto the request to the app. Anonymous: 401, or, when the
original URL is known, 302 to the sign-in page with a signed `next` that leads back to it.

The original URL comes from `?rd=` or from a trusted proxy's `X-Forwarded-Proto`/`-Host`/`-Uri`
(all three; see web/proxy.py). nginx's `auth_request` turns any answer but 2xx/401/403 into a
500, so its recipe leaves `X-Forwarded-Uri` out of the check and sends it only on the follow-up
request it makes for the 401 (docs/deploy.md). Whatever the source, the URL passes the same
RedirectPolicy as every signed target: a host that is not allowed gets a plain 401, never a link.

With access rules (SPEC section 12, accounts/access/gate.py) the answer also depends on the
request the proxy is about to forward: its host and path (from `?rd=`, else the trusted proxy's
`X-Forwarded-Host` and `X-Forwarded-Uri` or `X-Original-URI`) and `X-Forwarded-Method`. A
`bypass` or `deny` rule answers before the session is read; a signed-in user the rules refuse
gets 403, a page or problem+json as `Accept` asks. Without a rules file and with the default
policy of old (`signed_in`), none of this runs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from signin.accounts.access.gate import Outcome, Target
from signin.accounts.factors.flow import STEP_UP_PATH
from signin.accounts.usernames import canon
from signin.i18n import N_
from signin.services import services_of
from signin.stores.base import SessionUser
from signin.web.auth import current_session
from signin.web.edge import answered_by
from signin.web.errors import error_page, problem
from signin.web.locale import gettext
from signin.web.proxy import SCOPE_KEY, Forwarded

router = APIRouter(prefix="/api/v1", tags=["forward-auth"])

# Answers depend on the cookie; a cache between proxy and signin must never replay one.
NO_STORE = {"Cache-Control": "no-store"}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="signin"'}


@router.get(
    "/verify",
    summary="Forward-auth check for reverse proxies",
    responses={
        200: {
            "description": "Signed in; `Remote-User` (and `Remote-Email` if verified) set",
            "headers": {
                "Remote-User": {"description": "the username as typed at sign-up (UTF-8)"},
                "Remote-Email": {"description": "the account's verified email address"},
                "Remote-Groups": {"description": "the user's groups, comma-separated"},
            },
        },
        302: {"description": "Anonymous, original URL known and allowed: go sign in"},
        401: {
            "description": "Not signed in",
            "content": {"application/problem+json": {}},
        },
        403: {
            "description": "Signed in, but the access rules refuse this request",
            "content": {"application/problem+json": {}, "text/html": {}},
        },
    },
)
@answered_by(lambda request: verify_answer(request, request.query_params.get("rd")))
async def verify(request: Request, rd: str | None = None) -> Response:
    # Answered by the edge ahead of the router (FastAPI too reads the last `rd=`); the routes
    # stay for 405s and the schema.
    return await verify_answer(request, rd)


async def verify_answer(request: Request, rd: str | None) -> Response:
    """The whole of `GET /api/v1/verify` (the routes' and the edge's)."""
    gate = services_of(request).gate
    # No rules file and the default of old: no target to work out, as before SPEC section 12.
    target = None if gate.trivial else target_of(request, rd)
    answer, found = await gate.check(target, lambda: current_session(request))
    if answer is Outcome.ALLOW and found is not None:
        return signed_in(found)
    if answer is Outcome.BYPASS:
        return Response(headers=NO_STORE)
    if answer is Outcome.SIGN_IN:
        return sign_in_answer(request, rd)
    if answer is Outcome.STEP_UP:
        return sign_in_answer(request, rd, STEP_UP_PATH)
    if target is not None and found is not None:
        refused(request, found, target)
    if found is None:
        return forbidden(request, N_("This address is closed to everyone."))
    return forbidden(request, N_("Your account may not open this address."))


def refused(request: Request, found: SessionUser, target: Target) -> None:
    """A signed-in user the rules refuse: audited (`access_denied`), host and path (no query:
    it may hold tokens)."""
    name = canon(found.username)
    where = {"host": target.host[:100], "path": (target.path or "").split("?")[0][:100]}
    services_of(request).audit.record("access_denied", name, **where)


def sign_in_answer(request: Request, rd: str | None, path: str = "/sign-in") -> Response:
    """302 to the sign-in page (or, for step-up, its second-factor step at `path`) when the
    original URL is known and allowed, else 401."""
    original = original_url(request, rd)
    redirects = services_of(request).redirects
    if original is not None and redirects.is_safe(original):
        return RedirectResponse(redirects.sign_in_link(original, path), 302, headers=NO_STORE)
    if path == STEP_UP_PATH:
        detail, code = (
            "This address needs a sign-in with a second factor.",
            "step_up",
        )
    else:
        detail, code = "Not signed in.", "not_authenticated"
    return problem(401, detail, code=code, headers={**NO_STORE, **CHALLENGE})


# HEAD answers like GET; kept out of the schema, where a second method on one function would
# repeat the operation id (FastAPI warns, and the test suite turns warnings into errors).
router.add_api_route("/verify", verify, methods=["HEAD"], include_in_schema=False)


def signed_in(found: SessionUser) -> Response:
    headers = {**NO_STORE, "Remote-User": _header_value(found.username)}
    if found.email and found.email_verified:
        headers["Remote-Email"] = _header_value(found.email)
    if found.groups:
        headers["Remote-Groups"] = ",".join(found.groups)
    return JSONResponse({"username": found.username}, headers=headers)


def forbidden(request: Request, detail: str) -> Response:
    """403: an HTML page for a browser (a proxy may show it), problem+json for the rest."""
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "application/problem+json" not in accept:
        return error_page(request, 403, gettext(request, detail), NO_STORE)
    # Programs and proxies get English here: forward-auth never negotiates a language.
    return problem(403, detail, code="forbidden", headers=NO_STORE)


def target_of(request: Request, rd: str | None) -> Target:
    """The request the proxy is about to forward, as far as it said (for the access rules)."""
    forwarded: Forwarded = request.scope.get(SCOPE_KEY) or Forwarded()
    method = (forwarded.method or "GET").upper()
    if rd:
        parts = urlsplit(rd)
        host = parts.netloc.rpartition("@")[2].lower()
        return Target(host, (parts.path or "/") if host else None, method)
    uri = forwarded.uri or forwarded.original_uri
    return Target((forwarded.host or "").lower(), uri if uri else None, method)


def original_url(request: Request, rd: str | None) -> str | None:
    """The URL the visitor asked for: `?rd=`, else what a trusted proxy says, else None."""
    if rd:
        return rd
    forwarded: Forwarded = request.scope.get(SCOPE_KEY) or Forwarded()
    if forwarded.proto not in ("http", "https") or not forwarded.host or not forwarded.uri:
        return None
    if not forwarded.uri.startswith("/") or any(char in forwarded.host for char in "/?#@\\"):
        return None
    return f"{forwarded.proto}://{forwarded.host}{forwarded.uri}"


def _header_value(text: str) -> str:
    # Starlette writes header values as Latin-1; sending the UTF-8 bytes keeps non-ASCII
    # usernames (Zoë, Straße, Дмитрий) intact for upstreams that read the header as UTF-8.
    return text.encode("utf-8").decode("latin-1")
