"""Jinja2 pages with the CSRF token every form needs (signed double submit, see crypto/signing)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from signin.accounts.policy import TOO_SHORT
from signin.i18n import LANGUAGES, N_, NAMES, Plural
from signin.i18n.catalogs import Translator
from signin.i18n.jinja import install, rendering
from signin.services import services_of
from signin.web.cookies import read_cookie, set_cookie
from signin.web.locale import translator

TEMPLATES = Path(__file__).parent / "templates"
CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf_token"
SKIPPED = frozenset({"token", "next", "sig"})
# The messages static/js/*.js show, sent translated with every page (base.html, a JSON block).
# A `Plural` there is sent in the form for the password's minimum length.
JS_MESSAGES: dict[str, str | Plural] = {
    "enter_username": N_("Enter your username."),
    "fill_in": N_("Please fill in: %(field)s."),
    "too_short": TOO_SHORT,  # the scripts' one number: the minimum length, known here
    "too_long": N_("Password must be at most %(max)d characters."),
    "is_username": N_("Password must not be the username."),
    "mismatch": N_("The two passwords do not match."),
    "no_prehash": N_("This browser could not prepare the password."),
    "basic_form": N_("Use the basic form instead."),
    "passkey_refused": N_("The server refused the passkey (%(status)s)."),
    "passkey_not_used": N_(
        "The passkey was not used: the request was cancelled, timed out, or could not verify you."
    ),
    "passkey_exists": N_("This device already holds a passkey for your account."),
    "passkey_address": N_("Passkeys do not work at this address."),
    "passkey_failed": N_("The passkey did not work. Please try again."),
    "passkey_name": N_("Give the passkey a name, such as the device it lives on."),
}


def js_messages(speak: Translator, min_length: int) -> dict[str, str]:
    return {
        key: speak.ngettext(text.singular, text.plural, min_length)
        if isinstance(text, Plural)
        else speak.gettext(text)
        for key, text in JS_MESSAGES.items()
    }


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    templates.env.policies["ext.i18n.trimmed"] = True
    install(templates.env)
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


def _here(request: Request, status_code: int) -> str:
    """Where the language picker leads back to: this page, its query kept but for a token
    (never echoed) and a `next` that does not verify (never followed, never shown). An error
    page keeps no query: it is whatever the requester sent (a refused OIDC request's foreign
    `redirect_uri`, say), and the page must not repeat it."""
    if status_code >= 400:
        return request.url.path
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in SKIPPED]
    target, sig = request.query_params.get("next", ""), request.query_params.get("sig", "")
    if target and services_of(request).redirects.verified(target, sig, "") == target:
        kept += [("next", target), ("sig", sig)]
    query = urlencode(kept)
    return request.url.path + (f"?{query}" if kept and len(query) <= 2048 else "")


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
    speak = translator(request)
    ctx: dict[str, Any] = {
        "lang": speak.language,
        "lang_tag": speak.html_lang,
        "lang_dir": speak.direction,
        "languages": [(code, NAMES[code]) for code in LANGUAGES],
        "js_messages": js_messages(speak, services.settings.password_min_length),
        "here": _here(request, status_code),
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
    with rendering(speak):  # TemplateResponse renders right here, synchronously
        response = templates.TemplateResponse(
            request, template, ctx, status_code=status_code, headers=headers
        )
    # The same URL answers in other languages for other cookies and Accept-Language headers.
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Content-Language"] = speak.html_lang
    if getattr(request.state, "csrf_new", False):
        set_cookie(response, request, services.settings, CSRF_COOKIE, secret)
    return response
