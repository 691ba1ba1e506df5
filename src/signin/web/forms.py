"""Form plumbing for every page: reading a form, field errors, redirects, the session required.

A page route reads its form with `read_form` (403 unless the CSRF token matches this browser),
calls one service, and on a `SigninError` renders the same page again with `error_context`: one
message per field (several problems of one field joined), or one message for the whole form.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from signin.accounts.errors import InvalidInput, NotAuthenticated, SigninError
from signin.escape import has_control
from signin.i18n import N_
from signin.services import services_of
from signin.stores.base import SessionUser
from signin.web.auth import current_session
from signin.web.locale import error_text, problem_text, translator
from signin.web.templating import CSRF_FIELD, csrf_valid

MAX_FIELD = 4096


async def read_form(request: Request) -> dict[str, str]:
    """The submitted fields as strings; 403 unless the CSRF token matches this browser."""
    form = await request.form()
    fields = {key: value[: MAX_FIELD * 4] for key, value in form.items() if isinstance(value, str)}
    if not csrf_valid(request, fields.get(CSRF_FIELD)):
        raise HTTPException(
            403,
            N_(
                "This form has expired or did not come from this site. "
                "Go back, reload the page and try again."
            ),
        )
    # A redirect target with a control character is refused like any unsafe one: ignored with
    # its signature, so the form goes on to its default destination, never an error page
    # (SPEC section 6).
    if has_control(fields.get("next", "")) or has_control(fields.get("sig", "")):
        fields.pop("next", None)
        fields.pop("sig", None)
    # No name, address or token holds a control character; PostgreSQL cannot even store a NUL
    # (SPEC section 16). Passwords are only ever hashed, so they keep what was typed.
    if any(has_control(value) for key, value in fields.items() if "password" not in key):
        raise HTTPException(422, N_("A field holds a control character. Please retype it."))
    return fields


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def is_basic(request: Request, fields: dict[str, str] | None = None) -> bool:
    """The no-JavaScript variant of a form (plaintext password fields)."""
    source = fields if fields is not None else request.query_params
    return source.get("basic") == "1"


def field_errors(request: Request, exc: SigninError | None) -> dict[str, str]:
    """field → message in the reader's language; every problem at once, several joined."""
    problems: dict[str, str] = {}
    if isinstance(exc, InvalidInput):
        speak = translator(request)
        for item in exc.problems:
            said = problem_text(speak, item)
            problems[item.field] = " ".join(filter(None, [problems.get(item.field), said]))
    return problems


def error_context(request: Request, exc: SigninError | None) -> dict[str, Any]:
    """`problems` by field, or the error's message when no field is to blame."""
    problems = field_errors(request, exc)
    message = error_text(request, exc) if exc is not None and not problems else None
    return {"problems": problems, "message": message}


def redirect_fields(request: Request, fields: dict[str, str] | None = None) -> dict[str, str]:
    """`next`/`sig` to carry through a form, kept only when they verify."""
    source: Any = fields if fields is not None else request.query_params
    target, sig = source.get("next", ""), source.get("sig", "")
    policy = services_of(request).redirects
    if target and policy.verified(target, sig, "") == target:
        return {"next": target, "sig": sig}
    return {}


def destination(request: Request, fields: dict[str, str], default: str) -> str:
    """Where to go after the form: its verified `next`, else `default`."""
    return services_of(request).redirects.verified(fields.get("next"), fields.get("sig"), default)


async def require_session(request: Request) -> SessionUser:
    """The signed-in session, or `NotAuthenticated` (401 page or problem)."""
    found = await current_session(request)
    if found is None:
        raise NotAuthenticated()
    return found
