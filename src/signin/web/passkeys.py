"""Passkey routes (SPEC section 14): thin JSON endpoints for web/static/js/passkeys.js.

CSRF: these endpoints take only `application/json` bodies (415 otherwise; a cross-site form
cannot send one, and no CORS header lets a cross-site script). Besides, a POST or DELETE that
carries an `Origin` must name `SIGNIN_PUBLIC_URL`'s origin, and one not authenticated by a
Bearer token must send this browser's CSRF token (the one every page's forms hold) in
`X-CSRF-Token`; either failing is 403. The ceremony state (the challenge) rides in the
short-lived HttpOnly cookie `passkey`, so a challenge is answered only from the browser that
asked for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signin.accounts.factors.challenges import CHALLENGE_SECONDS
from signin.accounts.factors.passkeys import Ceremony
from signin.i18n import N_
from signin.services import services_of
from signin.stores.base import PasskeyRecord, SessionUser, UserRecord
from signin.web.api import PROBLEM, JsonRoute
from signin.web.auth import (
    clear_pending_cookie,
    give_device_proof,
    pending_challenge,
    start_session,
)
from signin.web.cookies import delete_cookie, read_cookie, set_cookie
from signin.web.forms import read_form, require_session, see_other
from signin.web.locale import remember_language
from signin.web.templating import csrf_valid

STATE_COOKIE = "passkey"
CSRF_HEADER = "x-csrf-token"
FORBIDDEN = N_("This request did not come from this site's pages. Reload the page and try again.")


def check_origin_and_csrf(request: Request) -> None:
    """403 for a state change from another origin, or a cookie-borne one without the token."""
    if request.method in ("GET", "HEAD"):
        return
    settings = services_of(request).settings
    origin = request.headers.get("origin")
    if origin is not None and origin != settings.public_origin:
        raise HTTPException(403, FORBIDDEN)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return  # not sent by a browser on its own: no cross-site request carries this header
    if not csrf_valid(request, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, FORBIDDEN)


router = APIRouter(
    prefix="/api/v1/passkeys",
    tags=["passkeys"],
    route_class=JsonRoute,
    dependencies=[Depends(check_origin_and_csrf)],
    responses={403: PROBLEM, 415: PROBLEM},
)
pages = APIRouter(include_in_schema=False)
Session = Annotated[SessionUser, Depends(require_session)]


class PasskeyOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


class CeremonyOut(BaseModel):
    publicKey: dict[str, Any] = Field(  # the name the browser API uses
        description="Options for navigator.credentials.create() or .get(), as WebAuthn JSON"
    )


class AddIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=256)
    credential: dict[str, Any] = Field(description="navigator.credentials.create(), as JSON")


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: dict[str, Any] = Field(description="navigator.credentials.get(), as JSON")
    remember: bool = False
    next: str | None = Field(default=None, max_length=4096)
    sig: str | None = Field(default=None, max_length=256)


class SecondStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str | None = Field(
        default=None,
        max_length=2048,
        description="the pending step (from the 202 of POST /api/v1/session); "
        "default: the browser's pending-step cookie",
    )


class SecondStepAnswer(SecondStepIn):
    credential: dict[str, Any] = Field(description="navigator.credentials.get(), as JSON")
    remember: bool | None = None


class SignedIn(BaseModel):
    username: str
    expires_at: datetime
    location: str = Field(description="where the page goes next (the verified `next`)")
    device_token: str = Field(description="this browser's device proof (also set as a cookie)")


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _out(record: PasskeyRecord) -> PasskeyOut:
    return PasskeyOut(
        id=record.id,
        name=record.name,
        created_at=_time(record.created_at),
        last_used_at=_time(record.last_used_at) if record.last_used_at is not None else None,
    )


def _started(request: Request, ceremony: Ceremony) -> Response:
    response = JSONResponse(CeremonyOut(publicKey=ceremony.options).model_dump(mode="json"))
    settings = services_of(request).settings
    set_cookie(response, request, settings, STATE_COOKIE, ceremony.state, max_age=CHALLENGE_SECONDS)
    return response


def _state(request: Request) -> str:
    return read_cookie(request, services_of(request).settings, STATE_COOKIE) or ""


def _json(response: Response, model: BaseModel) -> None:
    response.body = response.render(model.model_dump(mode="json"))
    response.headers["content-length"] = str(len(response.body))


@router.get("", response_model=list[PasskeyOut], responses={401: PROBLEM})
async def list_passkeys(request: Request, found: Session) -> list[PasskeyOut]:
    records = await services_of(request).passkeys.list(found.session.user_id)
    return [_out(record) for record in records]


@router.post("/registration", response_model=CeremonyOut, responses={401: PROBLEM, 422: PROBLEM})
async def registration_options(request: Request, found: Session) -> Response:
    """Start adding a passkey: creation options, and the challenge in the `passkey` cookie."""
    services = services_of(request)
    user = await services.account.user(found.session.user_id)
    return _started(request, await services.passkeys.registration_options(user))


@router.post(
    "",
    status_code=201,
    response_model=PasskeyOut,
    responses={400: PROBLEM, 401: PROBLEM, 409: PROBLEM, 422: PROBLEM},
)
async def add_passkey(request: Request, body: AddIn, found: Session) -> Response:
    services = services_of(request)
    user = await services.account.user(found.session.user_id)
    record = await services.passkeys.register(user, _state(request), body.credential, body.name)
    response = JSONResponse({}, status_code=201)
    _json(response, _out(record))
    delete_cookie(response, request, services.settings, STATE_COOKIE)
    return response


@router.delete("/{passkey_id}", status_code=204, responses={401: PROBLEM, 404: PROBLEM})
async def remove_passkey(request: Request, passkey_id: int, found: Session) -> Response:
    await services_of(request).passkeys.remove(found.session.user_id, passkey_id)
    return Response(status_code=204)


@router.post("/sign-in/options", response_model=CeremonyOut)
async def sign_in_options(request: Request) -> Response:
    """Start a passwordless sign-in: request options, the challenge in the `passkey` cookie."""
    return _started(request, await services_of(request).passkeys.sign_in_options())


@router.post(
    "/sign-in",
    status_code=201,
    response_model=SignedIn,
    responses={400: PROBLEM, 401: PROBLEM},
)
async def sign_in(request: Request, body: SignInIn) -> Response:
    """A verified assertion with user verification: a new two-factor session (cookie)."""
    user = await services_of(request).passkeys.sign_in(_state(request), body.credential)
    return await _signed_in(request, user, body.remember, body.next, body.sig)


@router.post("/second-step/options", response_model=CeremonyOut, responses={401: PROBLEM})
async def second_step_options(request: Request, body: SecondStepIn) -> Response:
    """Answer a pending second step (after a right password) with a passkey: request options
    naming the account's passkeys, the challenge in the `passkey` cookie."""
    challenge = body.challenge or pending_challenge(request) or ""
    return _started(request, await services_of(request).sign_in_flow.passkey_options(challenge))


@router.post(
    "/second-step",
    status_code=201,
    response_model=SignedIn,
    responses={400: PROBLEM, 401: PROBLEM},
)
async def second_step(request: Request, body: SecondStepAnswer) -> Response:
    """A verified assertion of the pending step's account: a new two-factor session."""
    challenge = body.challenge or pending_challenge(request) or ""
    done = await services_of(request).sign_in_flow.complete_with_passkey(
        challenge, _state(request), body.credential, remember=body.remember
    )
    response = await _signed_in(request, done.user, done.remember, done.next, done.sig)
    clear_pending_cookie(request, response)
    return response


async def _signed_in(
    request: Request, user: UserRecord, remember: bool, target: str | None, sig: str | None
) -> Response:
    """201 with a new two-factor session cookie and a device proof; the ceremony is spent."""
    services = services_of(request)
    response = JSONResponse({}, status_code=201)
    issued = await start_session(request, response, user.id, remember=remember, two_factor=True)
    await remember_language(request, user)
    out = SignedIn(
        username=user.username,
        expires_at=_time(services.sessions.expires_at(issued.record)),
        location=services.redirects.verified(target, sig, "/welcome"),
        device_token=give_device_proof(request, response, user),
    )
    _json(response, out)
    delete_cookie(response, request, services.settings, STATE_COOKIE)
    return response


@pages.post("/account/passkeys/remove")
async def remove_from_page(request: Request) -> Response:
    """The account page's remove button (a form, so it works without JavaScript)."""
    fields = await read_form(request)
    found = await require_session(request)
    try:
        passkey_id = int(fields.get("passkey", ""))
    except ValueError:
        raise HTTPException(422, N_("Choose a passkey to remove.")) from None
    await services_of(request).passkeys.remove(found.session.user_id, passkey_id)
    return see_other("/account")
