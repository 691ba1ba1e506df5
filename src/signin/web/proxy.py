"""Who is the client: forwarded headers are believed only from `SIGNIN_TRUSTED_PROXIES`.

From a trusted peer, the client IP is the right-most `X-Forwarded-For` address that is not itself
a trusted proxy (the left-most entries are whatever the client chose to send), and
`X-Forwarded-Proto` / `-Host` / `-Uri` describe the original request. From any other peer every
forwarded header is ignored: uvicorn's own proxy-header handling is switched off in `serve`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from signin.settings import Network

SCOPE_KEY = "signin.forwarded"


@dataclass(frozen=True)
class Forwarded:
    """The original request as a trusted proxy described it (all None from untrusted peers)."""

    proto: str | None = None
    host: str | None = None
    uri: str | None = None
    # For the access rules (SPEC section 12) only, never for redirects: the method, and the URI
    # from `X-Original-URI` (nginx's check sends it; `X-Forwarded-Uri` there would mean 302s).
    method: str | None = None
    original_uri: str | None = None


UNTRUSTED = Forwarded()  # what every request from an untrusted peer gets (frozen: one is enough)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted(address: str | None, trusted: Sequence[Network]) -> bool:
    ip = _parse_ip(address) if address else None
    return ip is not None and any(ip in network for network in trusted)


def client_ip(peer: str | None, forwarded_for: list[str], trusted: Sequence[Network]) -> str | None:
    """The client's address per SPEC section 1 (`SIGNIN_TRUSTED_PROXIES`)."""
    if peer is None or not is_trusted(peer, trusted):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _parse_ip(hop)
        if ip is None:
            return peer  # a garbled chain: fall back to the one address we know
        if not any(ip in network for network in trusted):
            return str(ip)
    return str(_parse_ip(hops[0])) if hops else peer


class ProxyHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = UNTRUSTED
        if peer is not None and self.trusted and is_trusted(peer, self.trusted):
            headers: dict[str, list[str]] = {}
            for name, value in scope["headers"]:
                headers.setdefault(name.decode("latin-1").lower(), []).append(
                    value.decode("latin-1")
                )
            ip = client_ip(peer, headers.get("x-forwarded-for", []), self.trusted)
            proto = _last(headers.get("x-forwarded-proto"))
            scope = dict(scope)
            scope["client"] = (ip, 0)
            if proto in ("http", "https"):
                scope["scheme"] = proto
            forwarded = Forwarded(
                proto=proto,
                host=_last(headers.get("x-forwarded-host")),
                uri=_last(headers.get("x-forwarded-uri")),
                method=_last(headers.get("x-forwarded-method")),
                original_uri=_last(headers.get("x-original-uri")),
            )
        scope = {**scope, SCOPE_KEY: forwarded}
        await self.app(scope, receive, send)


def _last(values: list[str] | None) -> str | None:
    if not values:
        return None
    return values[-1].split(",")[-1].strip() or None
