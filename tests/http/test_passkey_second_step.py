"""A passkey as the second step after a password (SPEC 14 with the pending step of SPEC 13),
and the strength of passkey sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from signin.accounts.clock import FrozenClock
from signin.services import build_services
from tests.http.test_passkeys import (
    ORIGIN,
    add_passkey,
    browser,
    csrf,
    passkey_sign_in,
    signed_up,
)
from tests.http.twofactorflows import (
    PASSWORD,
    App,
    cookie_header,
    enrol,
    password_step,
    sign_up,
    strength,
)
from tests.softkey import SoftKey
from tests.support import make_settings, running_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    settings = make_settings(tmp_path / "data", public_url=ORIGIN)
    clock = FrozenClock(1_800_000_010.0)
    services = build_services(settings, clock=clock)
    async with running_app(settings, services=services, base_url=ORIGIN) as client:
        yield App(client, services, clock)


async def enrolled_with_passkey(app: App) -> SoftKey:
    """alice: password, TOTP on, one passkey; signed out afterwards."""
    await sign_up(app)
    await password_step(app)
    await enrol(app)
    key, _ = await add_passkey(app.client)
    app.client.cookies.clear()
    return key


async def answer(
    client: httpx.AsyncClient, key: SoftKey, challenge: str | None = None, **get: object
) -> httpx.Response:
    headers = await csrf(client, "/sign-in")
    extra = {"challenge": challenge} if challenge else {}
    started = await client.post("/api/v1/passkeys/second-step/options", json=extra, headers=headers)
    assert started.status_code == 200, started.text
    credential = key.get(started.json()["publicKey"], **get)  # type: ignore[arg-type]
    return await client.post(
        "/api/v1/passkeys/second-step", json={"credential": credential, **extra}, headers=headers
    )


async def test_a_passkey_sign_in_is_a_two_factor_session(app: App) -> None:
    await sign_up(app)
    await password_step(app)
    assert await strength(app) is False
    key, _ = await add_passkey(app.client)
    async with browser(app.client) as other:
        assert (await passkey_sign_in(other, key)).status_code == 201
        me = await other.get("/api/v1/session")
        assert me.json()["two_factor"] is True


async def test_after_the_password_the_page_offers_a_passkey_and_it_signs_in(app: App) -> None:
    key = await enrolled_with_passkey(app)
    first = await password_step(app, remember="1")
    assert first.status_code == 303
    assert first.headers["location"] == "/sign-in/two-factor"
    page = await app.client.get("/sign-in/two-factor")
    assert 'data-passkey-second-step="two-factor-form"' in page.text
    assert "Use a passkey" in page.text
    done = await answer(app.client, key, uv=False)  # presence is enough for a second factor
    assert done.status_code == 201, done.text
    assert done.json()["location"] == "/welcome"
    assert cookie_header(done, "two_factor") is not None  # the pending step is cleared
    session = cookie_header(done, "session")
    assert session is not None
    assert "Max-Age=" in session  # "remember me" from the first step carried over
    assert cookie_header(done, "device") is not None  # a device proof, as after any sign-in
    assert await strength(app) is True


async def test_api_pending_step_lists_passkey_and_takes_one(app: App) -> None:
    key = await enrolled_with_passkey(app)
    body = {"username": "alice", "password": PASSWORD}
    first = await app.client.post("/api/v1/session", json=body)
    assert first.status_code == 202
    assert first.json()["methods"] == ["totp", "recovery", "passkey"]
    challenge = first.json()["challenge"]
    done = await answer(app.client, key, challenge)
    assert done.status_code == 201, done.text
    assert await strength(app) is True
    headers = await csrf(app.client, "/sign-in")
    again = await app.client.post(
        "/api/v1/passkeys/second-step/options", json={"challenge": challenge}, headers=headers
    )
    assert again.status_code == 401  # the pending step was used up
    assert again.json()["type"].endswith("/challenge_invalid")


async def test_another_accounts_passkey_or_a_bad_one_does_not_finish_the_step(app: App) -> None:
    await enrolled_with_passkey(app)
    async with browser(app.client) as bob_browser:
        await signed_up(bob_browser, "bob")
        bobs, _ = await add_passkey(bob_browser)
    await password_step(app)
    refused = await answer(app.client, bobs)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/passkey_refused")
    assert (await app.client.get("/api/v1/session")).status_code == 401
    page = await app.client.get("/sign-in/two-factor")
    assert "Use a passkey" in page.text  # the step is still open


async def test_without_passkeys_no_passkey_method_and_no_options(app: App) -> None:
    await sign_up(app)
    await password_step(app)
    await enrol(app)
    app.client.cookies.clear()
    first = await app.client.post(
        "/api/v1/session", json={"username": "alice", "password": PASSWORD}
    )
    assert first.json()["methods"] == ["totp", "recovery"]
    await password_step(app)
    page = await app.client.get("/sign-in/two-factor")
    assert "data-passkey-second-step" not in page.text
    headers = await csrf(app.client, "/sign-in")
    app.client.cookies.delete("two_factor")
    nothing = await app.client.post(
        "/api/v1/passkeys/second-step/options", json={}, headers=headers
    )
    assert nothing.status_code == 401
    assert nothing.json()["type"].endswith("/challenge_invalid")
