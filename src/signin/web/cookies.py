"""Cookie names and attributes (SPEC section 7): `__Host-` / `__Secure-` whenever Secure."""

from __future__ import annotations

from typing import Literal, cast

from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import Scope

from signin.settings import Settings

# Spelled as in RFC 6265bis; Starlette passes the value through as given.
LAX = cast(Literal["lax"], "Lax")


def is_secure(request: Request, settings: Settings) -> bool:
    return scope_is_secure(request.scope, settings)


def scope_is_secure(scope: Scope, settings: Settings) -> bool:
    if settings.cookie_secure == "auto":
        # The scheme `request.url` would report, without building the whole URL (hot path).
        scheme: str = scope.get("scheme", "http")
        return scheme == "https"
    return settings.cookie_secure == "true"


def cookie_name(base: str, request: Request, settings: Settings) -> str:
    return shared_cookie_name(base, request.scope, settings)


def shared_cookie_name(base: str, scope: Scope, settings: Settings) -> str:
    if not scope_is_secure(scope, settings):
        return base
    return f"__Secure-{base}" if settings.cookie_domain else f"__Host-{base}"


def cookie_value(header: str, name: str) -> str | None:
    """The cookie `name` from a Cookie header, read exactly as Starlette's `request.cookies`.

    For the session check, which needs one cookie: Starlette's parser unquotes every cookie
    of the header into a dict, a tenth of a check's CPU time. Same rules: `;`-separated,
    names and values stripped, the last of equal names wins; quoted values go to Starlette.
    """
    if name not in header:
        return None
    found = None
    for chunk in header.split(";"):
        key, sep, value = chunk.partition("=")
        if sep and key.strip() == name:
            found = value.strip()
    if found is not None and found.startswith('"'):
        return cookie_parser(header).get(name)
    return found


def set_cookie(
    response: Response,
    request: Request,
    settings: Settings,
    base: str,
    value: str,
    *,
    max_age: int | None = None,
    shared: bool = False,
) -> None:
    """`shared` cookies (the session) honour `SIGNIN_COOKIE_DOMAIN`; others stay host-only."""
    secure = is_secure(request, settings)
    domain = settings.cookie_domain if shared else None
    name = cookie_name(base, request, settings) if shared else _host_only_name(base, secure)
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        domain=domain,
        secure=secure,
        httponly=True,
        samesite=LAX,
    )


def delete_cookie(
    response: Response, request: Request, settings: Settings, base: str, *, shared: bool = False
) -> None:
    secure = is_secure(request, settings)
    domain = settings.cookie_domain if shared else None
    name = cookie_name(base, request, settings) if shared else _host_only_name(base, secure)
    response.delete_cookie(
        name, path="/", domain=domain, secure=secure, httponly=True, samesite=LAX
    )


def read_cookie(
    request: Request, settings: Settings, base: str, *, shared: bool = False
) -> str | None:
    secure = is_secure(request, settings)
    name = cookie_name(base, request, settings) if shared else _host_only_name(base, secure)
    return request.cookies.get(name)


def _host_only_name(base: str, secure: bool) -> str:
    return f"__Host-{base}" if secure else base
