"""The current session (the `session` cookie or an `Authorization: Bearer` token), and the
device cookie every successful sign-in leaves behind (SPEC section 5a).

`give_device_proof` is the one web helper every successful sign-in path calls (pages, API, a
completed reset, the unlock page; a second factor or a passkey too): it asks
`accounts/devices.py` for a new proof and sets the cookie `device` (`__Host-device` when
Secure), host-only, `HttpOnly; SameSite=Lax; Path=/`, for `SIGNIN_DEVICE_SECONDS`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from signin.accounts.devices import split
from signin.accounts.sessions import IssuedSession
from signin.services import Services, services_of
from signin.settings import Settings
from signin.stores.base import SessionUser, UserRecord
from signin.web.cookies import (
    cookie_value,
    delete_cookie,
    read_cookie,
    set_cookie,
    shared_cookie_name,
)

SESSION_COOKIE = "session"
DEVICE_COOKIE = "device"
PENDING_COOKIE = "two_factor"  # the pending second sign-in step (SPEC 13): signed, not a session
PENDING_MAX_AGE = 300


def presented_proofs(request: Request, token: str | None = None) -> list[str]:
    """The proofs this client holds: an API `device_token` first, then the cookie's."""
    cookie = read_cookie(request, services_of(request).settings, DEVICE_COOKIE)
    return [*split(token), *split(cookie)]


def give_device_proof(request: Request, response: Response, user: UserRecord) -> str:
    """Give this browser a device proof for `user` (kept with its proofs for other accounts);
    returns the new proof (the API's `device_token`)."""
    services = services_of(request)
    settings = services.settings
    granted = services.devices.grant(
        user.username_canon, read_cookie(request, settings, DEVICE_COOKIE)
    )
    set_cookie(
        response,
        request,
        settings,
        DEVICE_COOKIE,
        granted.cookie,
        max_age=settings.device_seconds,
    )
    return granted.token


def presented_token(request: Request) -> str | None:
    return scope_token(request.scope, services_of(request).settings)


def scope_token(scope: Scope, settings: Settings) -> str | None:
    """`Authorization: Bearer` (the first such header), else the session cookie, as
    `request.headers` and `request.cookies` read them (every Cookie header, the last value
    wins); one pass over the raw headers, no `Request` (the session check's hot path)."""
    authorization: bytes | None = None
    cookies: list[bytes] = []
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"cookie":
            cookies.append(value)
    if authorization is not None:
        scheme, _, credentials = authorization.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    name = shared_cookie_name(SESSION_COOKIE, scope, settings)
    for header in reversed(cookies):
        found = cookie_value(header.decode("latin-1"), name)
        if found is not None:
            return found
    return None


async def current_session(request: Request) -> SessionUser | None:
    return await session_of(request.scope)


async def session_of(scope: Scope) -> SessionUser | None:
    """The request's session, resolved once per request and kept in its state (where
    `request.state.session_user` and `request.state.user` find it)."""
    state = scope.setdefault("state", {})
    if "session_user" not in state:
        services: Services = scope["app"].state.services
        found = await services.sessions.resolve(scope_token(scope, services.settings))
        state["session_user"] = found
        state["user"] = found
    user: SessionUser | None = state["session_user"]
    return user


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")


async def start_session(
    request: Request,
    response: Response,
    user_id: int,
    *,
    remember: bool,
    two_factor: bool = False,
) -> IssuedSession:
    """Issue a new token in place of any presented before sign-in, and set the cookie."""
    services = services_of(request)
    issued = await services.sessions.issue(
        user_id,
        remember=remember,
        ip=client_ip(request),
        user_agent=user_agent(request),
        replacing=presented_token(request),
        two_factor=two_factor,
    )
    set_cookie(
        response,
        request,
        services.settings,
        SESSION_COOKIE,
        issued.token,
        max_age=services.settings.remember_seconds if remember else None,
        shared=True,
    )
    return issued


def clear_session_cookie(request: Request, response: Response) -> None:
    delete_cookie(response, request, services_of(request).settings, SESSION_COOKIE, shared=True)


def pending_challenge(request: Request) -> str | None:
    return read_cookie(request, services_of(request).settings, PENDING_COOKIE)


def set_pending_cookie(request: Request, response: Response, challenge: str) -> None:
    set_cookie(
        response,
        request,
        services_of(request).settings,
        PENDING_COOKIE,
        challenge,
        max_age=PENDING_MAX_AGE,
    )


def clear_pending_cookie(request: Request, response: Response) -> None:
    delete_cookie(response, request, services_of(request).settings, PENDING_COOKIE)
