"""web/fastpath.py answers session checks exactly as the routes do; the access log's line.

Two apps share one set of services: the real one (`create_app`), and the same app built with
`fast_checks=False`, where every request goes through FastAPI's stack and router. Every case
must give the same status, headers and body on both.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from signin.accounts.clock import FrozenClock
from signin.app import create_app
from signin.services import build_services
from signin.stores import migrate
from signin.web.fastpath import answer_check
from signin.web.security import SecurityMiddleware
from tests.support import make_settings

PASSWORD = "correct horse battery"
PEER = ("203.0.113.7", 50000)
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "cache-control")


@dataclass
class Pair:
    fast: httpx.AsyncClient
    routed: httpx.AsyncClient
    clock: FrozenClock

    async def same(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        """Send one request to both apps; assert identical answers; return the fast one."""
        fast = await self.fast.request(method, url, **kwargs)  # type: ignore[arg-type]
        routed = await self.routed.request(method, url, **kwargs)  # type: ignore[arg-type]
        assert fast.status_code == routed.status_code, (method, url)
        assert fast.headers.multi_items() == routed.headers.multi_items(), (method, url)
        assert fast.content == routed.content, (method, url)
        for name in SECURITY_HEADERS:
            assert name in fast.headers, (method, url, name)
        return fast


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    settings = make_settings(
        tmp_path / "data",
        session_idle_seconds=100,
        public_url="https://auth.example.com",
        allowed_redirect_hosts="app.example.com",
    )
    clock = FrozenClock()
    services = build_services(settings, clock=clock)
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
    fast_app = create_app(settings, services=services)
    routed_app = create_app(settings, services=services, fast_checks=False)
    async with fast_app.router.lifespan_context(fast_app):
        fast_t = httpx.ASGITransport(app=fast_app, client=PEER)
        routed_t = httpx.ASGITransport(app=routed_app, client=PEER)
        base = "http://testserver"
        async with (
            httpx.AsyncClient(transport=fast_t, base_url=base) as fast,
            httpx.AsyncClient(transport=routed_t, base_url=base) as routed,
        ):
            yield Pair(fast, routed, clock)


async def token_for(pair: Pair, username: str = "alice") -> str:
    body = {"username": username, "password": PASSWORD}
    assert (await pair.fast.post("/api/v1/users", json=body)).status_code == 201
    created = await pair.fast.post("/api/v1/session", json=body)
    assert created.status_code == 201
    token: str = created.json()["token"]
    pair.fast.cookies.clear()  # each case sends its own credentials, to both apps
    return token


def test_checks_pass_the_same_outer_layers(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    layers: list[object] = []
    inner = app.checks
    while hasattr(inner, "app"):
        layers.append(type(inner))
        inner = inner.app
    assert inner is answer_check
    assert layers == [m.cls for m in app.user_middleware]  # outermost first, same order
    assert layers[-1] is SecurityMiddleware
    assert create_app(make_settings(tmp_path), fast_checks=False).checks is None


async def test_session_check_same_on_both_paths(pair: Pair) -> None:
    token = await token_for(pair)
    cookie = {"Cookie": f"session={token}"}
    bearer = {"Authorization": f"Bearer {token}"}
    ok = await pair.same("GET", "/api/v1/session", headers=cookie)
    assert ok.status_code == 200
    assert ok.json()["username"] == "alice"
    assert (await pair.same("GET", "/api/v1/session", headers=bearer)).status_code == 200
    missing = await pair.same("GET", "/api/v1/session")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert (
        await pair.same("GET", "/api/v1/session", headers={"Cookie": "session=x"})
    ).status_code == 401
    # Not on the fast path: answered by the router on both apps.
    assert (await pair.same("HEAD", "/api/v1/session", headers=cookie)).status_code == 405
    wrong = await pair.same("PUT", "/api/v1/session", headers=cookie)
    assert wrong.status_code == 405
    assert "allow" in wrong.headers  # from the router (the first partial match)
    assert (await pair.same("GET", "/api/v1/session/", headers=cookie)).status_code in (307, 404)
    pair.clock.advance(101)  # past the idle limit
    expired = await pair.same("GET", "/api/v1/session", headers=cookie)
    assert expired.status_code == 401


async def test_verify_same_on_both_paths(pair: Pair) -> None:
    token = await token_for(pair, "Zoë")
    cookie = {"Cookie": f"session={token}"}
    signed_in = await pair.same("GET", "/api/v1/verify", headers=cookie)
    assert signed_in.status_code == 200
    assert dict(signed_in.headers.raw)[b"remote-user"] == "Zoë".encode()
    head = await pair.same("HEAD", "/api/v1/verify", headers=cookie)
    assert head.status_code == 200
    assert (
        await pair.same("GET", "/api/v1/verify", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    anonymous = await pair.same("GET", "/api/v1/verify")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="signin"'
    back = "https://app.example.com/x?y=1"
    redirect = await pair.same(
        "GET", "/api/v1/verify", params=[("rd", "https://evil.test/"), ("rd", back)]
    )
    assert redirect.status_code == 302  # the last rd= counts, on both paths
    assert (
        await pair.same("GET", "/api/v1/verify", params={"rd": "https://evil.test/"})
    ).status_code == 401
    assert (await pair.same("POST", "/api/v1/verify", headers=cookie)).status_code == 405
    pair.clock.advance(101)
    assert (await pair.same("GET", "/api/v1/verify", headers=cookie)).status_code == 401


async def test_access_log_line(pair: Pair, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="signin.access"):
        await pair.fast.get("/api/v1/session?token=secret-in-query")
        await pair.fast.get("/no%25such")
    lines = [r.getMessage() for r in caplog.records if r.name == "signin.access"]
    assert len(lines) == 2
    assert re.fullmatch(r'203\.0\.113\.7 "GET /api/v1/session" 401 \d+\.\dms', lines[0])
    assert re.fullmatch(r'203\.0\.113\.7 "GET /no%such" 404 \d+\.\dms', lines[1])
    assert all("secret" not in line for line in lines)


async def test_access_log_puts_successful_checks_at_debug(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    token = await token_for(pair)
    cookie = {"Cookie": f"session={token}"}

    async def logged(level: int) -> list[tuple[int, str]]:
        caplog.clear()
        with caplog.at_level(level, logger="signin.access"):
            assert (await pair.fast.get("/api/v1/session", headers=cookie)).status_code == 200
            assert (await pair.fast.head("/api/v1/verify", headers=cookie)).status_code == 200
            assert (await pair.fast.get("/api/v1/verify")).status_code == 401
            assert (await pair.fast.delete("/api/v1/session", headers=cookie)).status_code == 204
        return [(r.levelno, r.getMessage().split(" ")[2]) for r in caplog.records]

    # Denied checks and everything else stay at INFO; allowed checks only show at DEBUG.
    assert await logged(logging.INFO) == [
        (logging.INFO, '/api/v1/verify"'),
        (logging.INFO, '/api/v1/session"'),
    ]
    cookie["Cookie"] = f"session={await token_for(pair, 'bob')}"  # the first one signed out
    assert [level for level, _ in await logged(logging.DEBUG)] == [
        logging.DEBUG,
        logging.DEBUG,
        logging.INFO,
        logging.INFO,
    ]
