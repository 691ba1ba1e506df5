"""The unlock page of the lock mail (SPEC section 5a).

The unlock link (`GET /unlock?token=`) only shows a confirm button: mail scanners that open
links must not use it up. The POST (CSRF-checked) uses the token and sets the cookie; it does
not sign in. These pages send `Referrer-Policy: no-referrer` (web/security.py).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.errors import TokenInvalid
from signin.i18n import N_
from signin.services import services_of
from signin.web.auth import give_device_proof
from signin.web.forms import read_form
from signin.web.reset import token_error
from signin.web.templating import render

router = APIRouter(include_in_schema=False)


def _unlock_again(request: Request, exc: TokenInvalid) -> Response:
    return token_error(request, exc, again="/sign-in", again_label=N_("Go to sign-in"))


@router.get("/unlock")
async def unlock_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    try:
        found = await services_of(request).unlock.check(token)
    except TokenInvalid as exc:
        return _unlock_again(request, exc)
    return render(request, "unlock.html", {"token": token, "username": found.user.username})


@router.post("/unlock")
async def unlock(request: Request) -> Response:
    fields = await read_form(request)
    try:
        user = await services_of(request).unlock.redeem(fields.get("token", ""))
    except TokenInvalid as exc:
        return _unlock_again(request, exc)
    response = render(request, "unlocked.html", {"username": user.username})
    give_device_proof(request, response, user)
    return response
