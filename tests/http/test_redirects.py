"""Pages follow only verified `next` targets (SPEC 6): sign-in, sign-up, sign-out, /welcome."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from signin.accounts.redirects import RedirectPolicy
from tests.support import form_post, make_settings, running_app

PASSWORD = "correct horse battery"
APP = "https://app.example.com/dashboard?tab=2"


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path / "data", allowed_redirect_hosts="app.example.com")
    async with running_app(settings) as http:
        yield http


def policy(client: httpx.AsyncClient) -> RedirectPolicy:
    found: RedirectPolicy = client.app.state.services.redirects  # type: ignore[attr-defined]
    return found


def signed(client: httpx.AsyncClient, target: str) -> dict[str, str]:
    return {"next": target, "sig": policy(client).sign(target)}


async def make_user(client: httpx.AsyncClient, username: str = "alice") -> None:
    response = await client.post("/api/v1/users", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text


async def sign_in(client: httpx.AsyncClient, extra: dict[str, str]) -> httpx.Response:
    query = "?" + urlencode(extra) if "next" in extra else ""
    return await form_post(
        client,
        "/sign-in" + query,
        {"username": "alice", "password": PASSWORD, **extra},
    )


async def test_anonymous_welcome_redirects_to_signed_sign_in(web: httpx.AsyncClient) -> None:
    response = await web.get("/welcome")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/sign-in?next=/welcome&sig=")
    query = parse_qs(urlsplit(location).query)
    assert policy(web).verified("/welcome", query["sig"][0], "/x") == "/welcome"
    # The sign-in form carries the signed target on, and so do its links to the other forms.
    page = await web.get(location)
    assert page.status_code == 200
    assert '<input type="hidden" name="next" value="/welcome">' in page.text
    assert f'<input type="hidden" name="sig" value="{query["sig"][0]}">' in page.text
    assert html.escape(f"/sign-up?next=%2Fwelcome&sig={query['sig'][0]}") in page.text


@pytest.mark.parametrize("target", ["/welcome?from=app", APP])
async def test_sign_in_follows_a_signed_target(web: httpx.AsyncClient, target: str) -> None:
    await make_user(web)
    response = await sign_in(web, signed(web, target))
    assert response.status_code == 303
    assert response.headers["location"] == target


@pytest.mark.parametrize(
    "extra",
    [
        {"next": APP},
        {"next": APP, "sig": ""},
        {"next": APP, "sig": "AAAA"},
        {"next": "/account", "sig": "SIGNED:/welcome"},
        {"next": "https://evil.com/", "sig": "FORGED"},
        {"next": "//evil.com/", "sig": "FORGED"},
    ],
)
async def test_sign_in_ignores_unsigned_or_unsafe_targets(
    web: httpx.AsyncClient, extra: dict[str, str]
) -> None:
    await make_user(web)
    if extra.get("sig") == "SIGNED:/welcome":
        extra = {**extra, "sig": policy(web).sign("/welcome")}
    elif extra.get("sig") == "FORGED":
        # A correct HMAC (a leaked key) still must not make an unsafe target followable.
        extra = {**extra, "sig": policy(web).signer.sign(extra["next"])}
    response = await sign_in(web, extra)
    assert response.status_code == 303
    assert response.headers["location"] == "/welcome"


async def test_sign_in_page_with_bad_signature_is_a_normal_page(web: httpx.AsyncClient) -> None:
    response = await web.get("/sign-in", params={"next": "https://evil.com/", "sig": "nope"})
    assert response.status_code == 200
    assert 'name="next"' not in response.text
    assert "evil.com" not in response.text


async def test_failed_sign_in_keeps_the_signed_target(web: httpx.AsyncClient) -> None:
    await make_user(web)
    extra = signed(web, APP)
    failed = await form_post(
        web, "/sign-in", {"username": "alice", "password": "wrong!!!!", **extra}
    )
    assert failed.status_code == 401
    assert f'<input type="hidden" name="next" value="{html.escape(APP)}">' in failed.text


@pytest.mark.parametrize("target", ["/account", APP])
async def test_sign_up_follows_a_signed_target(web: httpx.AsyncClient, target: str) -> None:
    extra = signed(web, target)
    response = await form_post(
        web, "/sign-up?" + urlencode(extra), {"username": "bob", "password": PASSWORD, **extra}
    )
    assert response.status_code == 303
    assert response.headers["location"] == target


async def test_sign_up_ignores_an_unsigned_target(web: httpx.AsyncClient) -> None:
    response = await form_post(
        web, "/sign-up", {"username": "bob", "password": PASSWORD, "next": APP}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/welcome"


@pytest.mark.parametrize("target", ["/sign-in?bye=1", APP])
async def test_sign_out_follows_a_signed_target(web: httpx.AsyncClient, target: str) -> None:
    await make_user(web)
    assert (await sign_in(web, {})).status_code == 303
    extra = signed(web, target)
    response = await form_post(web, "/sign-out?" + urlencode(extra), extra)
    assert response.status_code == 303
    assert response.headers["location"] == target
    assert (await web.get("/api/v1/session")).status_code == 401


@pytest.mark.parametrize(
    "extra", [{"next": APP}, {"next": APP, "sig": "x"}, {"next": "https://evil.com/"}]
)
async def test_sign_out_ignores_unsigned_targets(
    web: httpx.AsyncClient, extra: dict[str, str]
) -> None:
    await make_user(web)
    assert (await sign_in(web, {})).status_code == 303
    response = await form_post(web, "/sign-out", extra)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    assert (await web.get("/api/v1/session")).status_code == 401


async def test_signature_from_old_key_still_verifies_after_rotation(tmp_path: Path) -> None:
    old, new = "o" * 40, "n" * 40
    before = make_settings(tmp_path / "data", secret_key=old)
    async with running_app(before) as http:
        sig = policy(http).sign("/account")
    after = make_settings(tmp_path / "data", secret_key=new, secret_key_fallbacks=old)
    async with running_app(after) as http:
        await make_user(http)
        response = await sign_in(http, {"next": "/account", "sig": sig})
        assert response.headers["location"] == "/account"
    foreign = make_settings(tmp_path / "data", secret_key=new)
    async with running_app(foreign) as http:
        response = await sign_in(http, {"next": "/account", "sig": sig})
        assert response.headers["location"] == "/welcome"
