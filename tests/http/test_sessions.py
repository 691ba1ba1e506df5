"""SPEC section 7: cookie flags, rotation at every sign-in, idle and absolute expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from signin.accounts.clock import FrozenClock
from signin.services import build_services
from tests.support import form_post, make_settings, running_app

PASSWORD = "correct horse battery"


@asynccontextmanager
async def app_with(
    tmp_path: Path,
    *,
    clock: FrozenClock | None = None,
    base_url: str = "http://testserver",
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path / "data", **overrides)
    services = build_services(settings, clock=clock) if clock else None
    async with running_app(settings, services=services, base_url=base_url) as client:
        yield client


async def make_user(client: httpx.AsyncClient, username: str = "alice") -> None:
    created = await client.post("/api/v1/users", json={"username": username, "password": PASSWORD})
    assert created.status_code == 201


async def page_sign_in(
    client: httpx.AsyncClient, username: str = "alice", **extra: str
) -> httpx.Response:
    response = await form_post(
        client, "/sign-in", {"username": username, "password": PASSWORD, **extra}
    )
    assert response.status_code == 303, response.text
    return response


def session_cookie(response: httpx.Response, name: str = "session") -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


async def test_cookie_flags_without_remember(tmp_path: Path) -> None:
    async with app_with(tmp_path) as client:
        await make_user(client)
        header = session_cookie(await page_sign_in(client))
        attributes = [part.strip() for part in header.split(";")]
        assert "HttpOnly" in attributes
        assert "SameSite=Lax" in attributes
        assert "Path=/" in attributes
        assert not any(a.lower().startswith(("max-age", "expires")) for a in attributes)
        assert "Secure" not in attributes  # plain http with SIGNIN_COOKIE_SECURE=auto
        token = header.split(";")[0].split("=", 1)[1]
        assert len(token) >= 43  # 256 bits, base64url


async def test_cookie_max_age_with_remember(tmp_path: Path) -> None:
    async with app_with(tmp_path, remember_seconds=86400) as client:
        await make_user(client)
        header = session_cookie(await page_sign_in(client, remember="1"))
        assert "Max-Age=86400" in header
        assert "HttpOnly" in header


async def test_secure_cookie_when_configured(tmp_path: Path) -> None:
    async with app_with(tmp_path, cookie_secure="true", base_url="https://testserver") as client:
        await make_user(client)
        response = await page_sign_in(client)
        header = session_cookie(response, "__Host-session")
        attributes = [part.strip() for part in header.split(";")]
        assert "Secure" in attributes
        assert "Path=/" in attributes
        assert not any(a.lower().startswith("domain") for a in attributes)
        assert (await client.get("/welcome")).status_code == 200
        # The CSRF cookie is host-prefixed too.
        assert (
            any(
                h.startswith("__Host-csrf=")
                for h in (await client.get("/sign-in")).headers.get_list("set-cookie")
            )
            or "__Host-csrf" in client.cookies
        )


async def test_auto_secure_on_https(tmp_path: Path) -> None:
    async with app_with(tmp_path, base_url="https://testserver") as client:
        await make_user(client)
        header = session_cookie(await page_sign_in(client), "__Host-session")
        assert "Secure" in header


async def test_auto_secure_via_trusted_proxy_only(tmp_path: Path) -> None:
    async with app_with(tmp_path, trusted_proxies=["203.0.113.7"]) as client:
        await make_user(client)
        api = await client.post(
            "/api/v1/session",
            json={"username": "alice", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert "__Host-session=" in api.headers["set-cookie"]
        assert "Secure" in api.headers["set-cookie"]
    async with app_with(tmp_path / "b") as client:  # the peer is not trusted: not believed
        await make_user(client)
        api = await client.post(
            "/api/v1/session",
            json={"username": "alice", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert api.headers["set-cookie"].startswith("session=")
        assert "Secure" not in api.headers["set-cookie"]


async def test_insecure_cookie_when_disabled(tmp_path: Path) -> None:
    async with app_with(tmp_path, cookie_secure="false", base_url="https://testserver") as client:
        await make_user(client)
        header = session_cookie(await page_sign_in(client))
        assert "Secure" not in header


async def test_new_token_at_every_sign_in_and_old_one_dies(tmp_path: Path) -> None:
    async with app_with(tmp_path) as client:
        await make_user(client)
        await page_sign_in(client)
        first = client.cookies["session"]
        await page_sign_in(client)  # signing in again from the same browser
        second = client.cookies["session"]
        assert first != second
        assert (await client.get("/welcome")).status_code == 200
        stale = await client.get("/api/v1/session", headers={"Authorization": f"Bearer {first}"})
        assert stale.status_code == 401


async def test_planted_token_is_not_adopted(tmp_path: Path) -> None:
    """Session fixation: a cookie set before sign-in never becomes the signed-in session."""
    async with app_with(tmp_path) as client:
        await make_user(client)
        client.cookies.set("session", "attacker-chosen-value", domain="testserver.local")
        response = await page_sign_in(client)
        issued = session_cookie(response).split(";")[0].split("=", 1)[1]
        assert issued != "attacker-chosen-value"
        assert client.cookies["session"] == issued


async def test_idle_expiry(tmp_path: Path) -> None:
    clock = FrozenClock()
    async with app_with(
        tmp_path, clock=clock, session_idle_seconds=100, session_max_seconds=1000
    ) as client:
        await make_user(client)
        await page_sign_in(client)
        clock.advance(99)
        assert (await client.get("/welcome")).status_code == 200  # use resets the idle timer
        clock.advance(99)
        assert (await client.get("/welcome")).status_code == 200
        clock.advance(100)
        gone = await client.get("/welcome")
        assert gone.status_code == 303
        assert gone.headers["location"].startswith("/sign-in")


async def test_absolute_expiry_despite_activity(tmp_path: Path) -> None:
    clock = FrozenClock()
    async with app_with(
        tmp_path, clock=clock, session_idle_seconds=100, session_max_seconds=250
    ) as client:
        await make_user(client)
        await page_sign_in(client)
        for _ in range(4):
            clock.advance(60)
            assert (await client.get("/welcome")).status_code == 200
        clock.advance(10)  # 250 s after sign-in
        assert (await client.get("/welcome")).status_code == 303


async def test_remembered_session_outlives_idle_limit(tmp_path: Path) -> None:
    clock = FrozenClock()
    async with app_with(
        tmp_path,
        clock=clock,
        session_idle_seconds=100,
        session_max_seconds=200,
        remember_seconds=1000,
    ) as client:
        await make_user(client)
        await page_sign_in(client, remember="1")
        clock.advance(500)
        assert (await client.get("/welcome")).status_code == 200
        clock.advance(500)
        assert (await client.get("/welcome")).status_code == 303


async def test_api_expires_at_reflects_idle_limit(tmp_path: Path) -> None:
    clock = FrozenClock(1_800_000_000.0)
    async with app_with(
        tmp_path, clock=clock, session_idle_seconds=100, session_max_seconds=1000
    ) as client:
        await make_user(client)
        created = await client.post(
            "/api/v1/session", json={"username": "alice", "password": PASSWORD}
        )
        assert created.json()["expires_at"].startswith("2027-01-15T08:01:40")  # now + 100 s
        me = await client.get("/api/v1/session")
        assert me.json()["created_at"].startswith("2027-01-15T08:00:00")
