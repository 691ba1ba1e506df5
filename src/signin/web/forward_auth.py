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
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from signin.services import services_of
from signin.stores.base import SessionUser
from signin.web.auth import current_session
from signin.web.edge import answered_by
from signin.web.errors import problem
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
            },
        },
        302: {"description": "Anonymous, original URL known and allowed: go sign in"},
        401: {
            "description": "Not signed in",
            "content": {"application/problem+json": {}},
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
    found = await current_session(request)
    if found is not None:
        return signed_in(found)
    original = original_url(request, rd)
    redirects = services_of(request).redirects
    if original is not None and redirects.is_safe(original):
        return RedirectResponse(redirects.sign_in_link(original), 302, headers=NO_STORE)
    return problem(
        401, "Not signed in.", code="not_authenticated", headers={**NO_STORE, **CHALLENGE}
    )


# HEAD answers like GET; kept out of the schema, where a second method on one function would
# repeat the operation id (FastAPI warns, and the test suite turns warnings into errors).
router.add_api_route("/verify", verify, methods=["HEAD"], include_in_schema=False)


def signed_in(found: SessionUser) -> Response:
    headers = {**NO_STORE, "Remote-User": _header_value(found.username)}
    if found.email and found.email_verified:
        headers["Remote-Email"] = _header_value(found.email)
    return JSONResponse({"username": found.username}, headers=headers)


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
