"""The JSON API (SPEC section 8): `/api/v1`, problem+json errors, cookie or Bearer token."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from signin.accounts.factors.flow import Pending, SignedIn
from signin.i18n import N_
from signin.services import services_of
from signin.stores.base import SessionUser
from signin.web.auth import (
    clear_session_cookie,
    client_ip,
    give_device_proof,
    presented_proofs,
    presented_token,
    session_of,
    start_session,
)
from signin.web.edge import answered_by, answered_by_json, is_json
from signin.web.forms import require_session
from signin.web.locale import requested_language


def require_json(request: Request) -> None:
    """Bodies must be JSON (415 otherwise): HTML forms cannot send it cross-site (CSRF)."""
    if request.method in ("POST", "PUT", "PATCH") and not is_json(
        request.headers.get("content-type", "")
    ):
        raise HTTPException(415, N_("The request body must be application/json."))


class JsonRoute(APIRoute):
    """Checks the media type before FastAPI reads the body.

    A dependency would run only after FastAPI parsed the body, so a body without a content type
    that is not JSON would get 422 instead of 415.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            require_json(request)
            return await handler(request)

        return checked


router = APIRouter(prefix="/api/v1", tags=["api"], route_class=JsonRoute)

PROBLEM = {"description": "Problem details (RFC 9457)", "content": {"application/problem+json": {}}}


# Text fields refuse control characters at the edge: PostgreSQL cannot store a NUL (a 500
# there, a 401 on SQLite), and no username or address has any (SPEC section 16).
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
USERNAME = Field(
    min_length=1,
    max_length=256,
    pattern=NO_CONTROL,
    description="3-32 letters, digits, '.', '_' or '-' after NFKC (sign-up checks the rules)",
)
PASSWORD = Field(min_length=1, max_length=4096, description="v1 pre-hash or plaintext")


class SignUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = USERNAME
    password: str = PASSWORD
    email: str | None = Field(default=None, max_length=320, pattern=NO_CONTROL)
    invite: str | None = Field(
        default=None, max_length=128, pattern=NO_CONTROL, description="invite token"
    )


class UserOut(BaseModel):
    username: str
    email: str | None


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = USERNAME
    password: str = PASSWORD
    remember: bool = False
    device_token: str | None = Field(
        default=None, max_length=4096, description="a device proof from an earlier sign-in"
    )


class SessionCreated(BaseModel):
    token: str
    username: str
    expires_at: datetime
    device_token: str = Field(description="a device proof: send it back at the next sign-in")


class TwoFactorRequired(BaseModel):
    """202: the password was right; finish at `POST /api/v1/session/two-factor`."""

    two_factor_required: bool = True
    challenge: str
    methods: list[str]
    expires_at: datetime


class SessionOut(BaseModel):
    username: str
    created_at: datetime
    expires_at: datetime
    two_factor: bool = Field(description="whether a second factor was proven for this session")


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses={403: PROBLEM, 409: PROBLEM, 429: PROBLEM},
)
async def create_user(body: SignUpIn, request: Request) -> UserOut:
    registration = services_of(request).registration
    user = await registration.sign_up(
        body.username,
        body.password,
        body.email or "",
        invite=body.invite or "",
        welcome=True,
        ip=client_ip(request),
        # A program that names a language (Accept-Language, the lang cookie) gets its mails in
        # it; one that names none leaves the account on SIGNIN_DEFAULT_LANGUAGE.
        language=requested_language(request),
    )
    return UserOut(username=user.username, email=user.email)


async def session_created(request: Request, body: SignInIn) -> Response:
    """The whole of `POST /api/v1/session` after its body (the route's and the edge's)."""
    outcome = await services_of(request).sign_in_flow.password_step(
        body.username,
        body.password,
        client_ip(request),
        remember=body.remember,
        proofs=presented_proofs(request, body.device_token),
    )
    if isinstance(outcome, Pending):
        required = TwoFactorRequired(
            challenge=outcome.challenge,
            methods=list(outcome.methods),
            expires_at=_time(outcome.expires_at),
        )
        return JSONResponse(required.model_dump(mode="json"), status_code=202)
    return await session_response(request, outcome)


async def session_response(request: Request, outcome: SignedIn) -> Response:
    """201 with a new session and a device proof for a completed sign-in (one or two steps)."""
    services = services_of(request)
    user = outcome.user
    response = JSONResponse({}, status_code=201)
    issued = await start_session(
        request, response, user.id, remember=outcome.remember, two_factor=outcome.two_factor
    )
    out = SessionCreated(
        token=issued.token,
        username=user.username,
        expires_at=_time(services.sessions.expires_at(issued.record)),
        device_token=give_device_proof(request, response, user),
    )
    response.body = response.render(out.model_dump(mode="json"))
    response.headers["content-length"] = str(len(response.body))
    return response


@router.post(
    "/session",
    status_code=201,
    response_model=SessionCreated,
    responses={
        202: {"model": TwoFactorRequired, "description": "A second factor is due (SPEC 13)"},
        401: PROBLEM,
        429: PROBLEM,
        503: PROBLEM,
    },
)
@answered_by_json(SignInIn, session_created)
async def create_session(body: SignInIn, request: Request) -> Response:
    return await session_created(request, body)


async def session_answer(request: Request) -> Response:
    """`GET /api/v1/session` through the router (and the edge's 401s and errors)."""
    found = await require_session(request)
    body = session_json(found, services_of(request).sessions.expires_at(found.session))
    return Response(body, media_type="application/json")


async def session_body(scope: Scope) -> bytes | None:
    """The edge's `GET /api/v1/session`: the 200 body, or None for `session_answer` to answer
    (the lookup is kept in the request state, so it runs once)."""
    found = await session_of(scope)
    if found is None:
        return None
    return session_json(found, scope["app"].state.services.sessions.expires_at(found.session))


def session_json(found: SessionUser, expires: float) -> bytes:
    """`SessionOut` as FastAPI serializes its `response_model` (pydantic's JSON, byte for byte:
    tests/http/test_fastpath.py), written directly: building and dumping the model was a
    tenth of a session check's CPU time."""
    session = found.session
    return (
        f'{{"username":{json.dumps(found.username, ensure_ascii=False)},'
        f'"created_at":"{_iso(session.created_at)}","expires_at":"{_iso(expires)}",'
        f'"two_factor":{"true" if session.two_factor else "false"}}}'
    ).encode()


@lru_cache(maxsize=4096)
def _iso(epoch: float) -> str:
    """pydantic's form of an aware UTC datetime: ISO 8601 with `Z`. Cached: a session's times
    change at most once a minute, and formatting them was 4 % of a session check's CPU."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()[:-6] + "Z"


# Answered by the edge ahead of the router; the route stays for 405s and the schema.
@router.get("/session", response_model=SessionOut, responses={401: PROBLEM})
@answered_by(session_answer, raw=session_body)
async def read_session(request: Request) -> Response:
    return await session_answer(request)


@router.delete("/session", status_code=204, responses={401: PROBLEM})
async def delete_session(
    request: Request, _found: Annotated[SessionUser, Depends(require_session)]
) -> Response:
    token = presented_token(request)
    if token:
        await services_of(request).sessions.end(token)
    response = Response(status_code=204)
    clear_session_cookie(request, response)
    return response
