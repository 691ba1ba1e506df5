"""Jinja2 pages with the CSRF token every form needs (signed double submit, see crypto/signing)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from signin.services import services_of
from signin.web.cookies import read_cookie, set_cookie

TEMPLATES = Path(__file__).parent / "templates"
CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf_token"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    # Every user-facing string goes through gettext (`_()`, `{% trans %}`) so pages can be
    # translated; until a catalogue is installed the strings are shown as written.
    templates.env.add_extension("jinja2.ext.i18n")
    templates.env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return templates


def csrf_browser_secret(request: Request) -> str:
    """The random value in this browser's CSRF cookie, made on first need."""
    existing = getattr(request.state, "csrf_secret", None)
    if existing is None:
        existing = read_cookie(request, services_of(request).settings, CSRF_COOKIE)
        if not existing or len(existing) > 64:
            existing = secrets.token_urlsafe(24)
            request.state.csrf_new = True
        request.state.csrf_secret = existing
    return str(existing)


def csrf_valid(request: Request, token: str | None) -> bool:
    cookie = read_cookie(request, services_of(request).settings, CSRF_COOKIE)
    if not token or not cookie:
        return False
    return services_of(request).csrf.check(token, cookie)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    services = services_of(request)
    secret = csrf_browser_secret(request)
    ctx: dict[str, Any] = {
        "csrf_token": services.csrf.token_for(secret),
        "settings": services.settings,
        "min_length": services.settings.password_min_length,
        "user": getattr(request.state, "user", None),
        "form": {},
        "problems": {},
        "message": None,
    }
    ctx.update(context or {})
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(
        request, template, ctx, status_code=status_code, headers=headers
    )
    if getattr(request.state, "csrf_new", False):
        set_cookie(response, request, services.settings, CSRF_COOKIE, secret)
    return response
