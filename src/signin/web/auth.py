"""The current session: from the `session` cookie or an `Authorization: Bearer` token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.sessions import IssuedSession
from signin.services import services_of
from signin.stores.base import SessionUser
from signin.web.cookies import delete_cookie, read_cookie, set_cookie

SESSION_COOKIE = "session"
PENDING_COOKIE = "two_factor"  # the pending second sign-in step (SPEC 13): signed, not a session
PENDING_MAX_AGE = 300


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return read_cookie(request, services_of(request).settings, SESSION_COOKIE, shared=True)


async def current_session(request: Request) -> SessionUser | None:
    if "session_user" not in request.state._state:
        found = await services_of(request).sessions.resolve(presented_token(request))
        request.state.session_user = found
        request.state.user = found
    user: SessionUser | None = request.state.session_user
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
