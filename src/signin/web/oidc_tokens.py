"""OpenID Connect endpoints for programs: token, UserInfo, revocation, introspection.

Errors are JSON `{"error", "error_description"}` (RFC 6749 5.2) with `Cache-Control: no-store`;
a failed client authentication is 401 (with `WWW-Authenticate: Basic` when the client used it).
Nothing here logs a code, token or secret: the access log leaves query strings out, and bodies
are never logged.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signin.accounts.oidc.clients import Client
from signin.accounts.oidc.errors import OAuthError, invalid_client, invalid_request
from signin.accounts.oidc.tokens import Credentials
from signin.services import services_of
from signin.web.oidc import NO_STORE, refuse_other_methods

router = APIRouter(include_in_schema=False)
FORM = "application/x-www-form-urlencoded"


def cors(request: Request, response: Response) -> Response:
    """Let a public client's own web origin (a single-page app) read the answer."""
    origin = request.headers.get("origin")
    if origin and origin in services_of(request).oidc.cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


@router.options("/oidc/token")
@router.options("/oidc/userinfo")
@router.options("/oidc/revoke")
async def preflight(request: Request) -> Response:
    headers = {
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
    }
    return cors(request, Response(status_code=204, headers=headers))


def method_not_allowed(allow: str) -> Response:
    """A 405 as the JSON error programs read here, not an HTML page."""
    body = {"error": "invalid_request", "error_description": f"This endpoint answers {allow}."}
    return JSONResponse(body, 405, headers={**NO_STORE, "Allow": allow})


def oauth_error(exc: OAuthError, basic: bool = False) -> Response:
    headers = dict(NO_STORE)
    if exc.status == 401 and basic:
        headers["WWW-Authenticate"] = 'Basic realm="signin"'
    return JSONResponse(exc.body(), exc.status, headers=headers)


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM


async def read_fields(request: Request) -> dict[str, str]:
    """The form body; `invalid_request` for another media type or a repeated parameter."""
    if not is_form(request):
        raise invalid_request(f"The body must be {FORM}.")
    form = await request.form()
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str) or key in fields:
            raise invalid_request(f"{key} is given more than once.")
        fields[key] = value
    return fields


def credentials(request: Request, fields: dict[str, str]) -> Credentials:
    """Who the client says it is: HTTP Basic (RFC 6749 2.3.1, form-encoded parts) or the form."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        if "client_secret" in fields:
            raise invalid_request("Use one way of client authentication, not two.")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise invalid_client() from None
        client_id, colon, secret = decoded.partition(":")
        if not colon:
            raise invalid_client()
        named = fields.get("client_id")
        if named is not None and named != unquote(client_id):
            raise invalid_client()
        return Credentials(unquote(client_id), unquote(secret), "client_secret_basic")
    if "client_secret" in fields:
        return Credentials(fields.get("client_id"), fields["client_secret"], "client_secret_post")
    return Credentials(fields.get("client_id"), None, "none")


async def _client(request: Request) -> tuple[Client, dict[str, str]]:
    fields = await read_fields(request)
    return services_of(request).oidc.tokens.authenticate(credentials(request, fields)), fields


def _basic(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("basic")


@router.post("/oidc/token")
async def token(request: Request) -> Response:
    try:
        client, fields = await _client(request)
        body = await services_of(request).oidc.tokens.grant(client, fields)
    except OAuthError as exc:
        return cors(request, oauth_error(exc, _basic(request)))
    return cors(request, JSONResponse(body, headers=NO_STORE))


@router.post("/oidc/revoke")
async def revoke(request: Request) -> Response:
    try:
        client, fields = await _client(request)
        if not fields.get("token"):
            raise invalid_request("token is missing.")
        await services_of(request).oidc.resources.revoke(
            client, fields["token"], fields.get("token_type_hint")
        )
    except OAuthError as exc:
        return cors(request, oauth_error(exc, _basic(request)))
    return cors(request, Response(status_code=200, headers=NO_STORE))


@router.post("/oidc/introspect")
async def introspect(request: Request) -> Response:
    try:
        client, fields = await _client(request)
        if not client.confidential:
            raise invalid_client("Introspection is for confidential clients.")
        if not fields.get("token"):
            raise invalid_request("token is missing.")
        body = await services_of(request).oidc.resources.introspect(
            client, fields["token"], fields.get("token_type_hint")
        )
    except OAuthError as exc:
        return oauth_error(exc, _basic(request))
    return JSONResponse(body, headers=NO_STORE)


def _bearer_error(error: str, description: str, status: int = 401) -> Response:
    challenge = f'Bearer realm="signin", error="{error}", error_description="{description}"'
    headers = {**NO_STORE, "WWW-Authenticate": challenge}
    return JSONResponse({"error": error, "error_description": description}, status, headers=headers)


async def _userinfo(request: Request, form_token: str | None) -> Response:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else None
    if bearer and form_token:
        return _bearer_error("invalid_request", "Send the token once.", 400)
    if bearer is None and form_token is None:
        # RFC 6750 3.1: a request with no token at all (or another scheme) gets the challenge
        # alone, without an error code; that is for a token that was presented and failed.
        challenge = {"WWW-Authenticate": 'Bearer realm="signin"'}
        return Response(status_code=401, headers={**NO_STORE, **challenge})
    presented = bearer or form_token
    if not presented:
        return _bearer_error("invalid_token", "An access token is needed.")
    claims: dict[str, Any] | None = await services_of(request).oidc.resources.userinfo(presented)
    if claims is None:
        return _bearer_error("invalid_token", "The access token is not valid.")
    return JSONResponse(claims, headers=NO_STORE)


@router.get("/oidc/userinfo")
async def userinfo(request: Request) -> Response:
    return cors(request, await _userinfo(request, None))


@router.post("/oidc/userinfo")
async def userinfo_post(request: Request) -> Response:
    form_token = None
    if is_form(request):
        form = await request.form()
        value = form.get("access_token")
        form_token = value if isinstance(value, str) else None
    return cors(request, await _userinfo(request, form_token))


refuse_other_methods(router, method_not_allowed)
