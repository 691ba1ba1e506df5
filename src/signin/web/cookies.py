"""Cookie names and attributes (SPEC section 7): `__Host-` / `__Secure-` whenever Secure."""

from __future__ import annotations

from typing import Literal, cast

from starlette.requests import Request
from starlette.responses import Response

from signin.settings import Settings

# Spelled as in RFC 6265bis; Starlette passes the value through as given.
LAX = cast(Literal["lax"], "Lax")


def is_secure(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure == "auto":
        # The scheme `request.url` would report, without building the whole URL (hot path).
        scheme: str = request.scope.get("scheme", "http")
        return scheme == "https"
    return settings.cookie_secure == "true"


def cookie_name(base: str, request: Request, settings: Settings) -> str:
    if not is_secure(request, settings):
        return base
    return f"__Secure-{base}" if settings.cookie_domain else f"__Host-{base}"


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
