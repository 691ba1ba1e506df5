"""Passkeys over HTTP (web/passkeys.py): JSON endpoints, CSRF, cookies, the account page.

A software authenticator (tests/softkey.py) answers the ceremonies; the browser journeys with
Chromium's virtual authenticator are in tests/browser/test_passkeys.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from signin.services import Services, build_services
from tests.http.mailflows import sign_up_verified
from tests.mailcatcher import mail_catcher
from tests.softkey import SoftKey
from tests.support import csrf_of, form_post, make_settings, run_signin, running_app

ORIGIN = "http://localhost:8000"
PASSWORD = "correct horse battery"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    settings = make_settings(tmp_path / "data", public_url=ORIGIN)
    services = build_services(settings)
    async with running_app(settings, services=services, base_url=ORIGIN) as client:
        yield client, services


def browser(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser on the same app: its own cookies."""
    transport = httpx.ASGITransport(app=client.app, client=("198.51.100.9", 50001))  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)


async def csrf(client: httpx.AsyncClient, page: str = "/sign-in") -> dict[str, str]:
    """Headers a page's script sends: its CSRF token and the page's origin."""
    got = await client.get(page)
    return {"X-CSRF-Token": csrf_of(got.text), "Origin": ORIGIN}


async def signed_up(client: httpx.AsyncClient, username: str = "alice") -> None:
    response = await form_post(client, "/sign-up", {"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.text


async def add_passkey(client: httpx.AsyncClient, name: str = "Laptop") -> tuple[SoftKey, Any]:
    headers = await csrf(client, "/account")
    started = await client.post("/api/v1/passkeys/registration", json={}, headers=headers)
    assert started.status_code == 200, started.text
    assert "passkey=" in started.headers["set-cookie"]
    assert "HttpOnly" in started.headers["set-cookie"]
    key = SoftKey("localhost", ORIGIN)
    body = {"name": name, "credential": key.create(started.json()["publicKey"])}
    added = await client.post("/api/v1/passkeys", json=body, headers=headers)
    assert added.status_code == 201, added.text
    return key, added.json()


async def passkey_sign_in(client: httpx.AsyncClient, key: SoftKey, **answer: Any) -> httpx.Response:
    headers = await csrf(client)
    started = await client.post("/api/v1/passkeys/sign-in/options", json={}, headers=headers)
    assert started.status_code == 200, started.text
    extra = answer.pop("body", {})
    credential = key.get(started.json()["publicKey"], **answer)
    return await client.post(
        "/api/v1/passkeys/sign-in", json={"credential": credential, **extra}, headers=headers
    )


async def test_add_list_and_sign_in_with_a_passkey(
    app: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = app
    await signed_up(client)
    key, added = await add_passkey(client, "Work laptop")
    assert added["name"] == "Work laptop"
    assert added["last_used_at"] is None
    page = await client.get("/account")
    assert f'<tr data-passkey="{added["id"]}">' in page.text
    assert "Work laptop" in page.text
    assert "never" in page.text
    async with browser(client) as other:
        signed = await passkey_sign_in(other, key, body={"remember": True})
        assert signed.status_code == 201, signed.text
        assert signed.json()["username"] == "alice"
        assert signed.json()["location"] == "/welcome"
        cookies = signed.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("session="))
        assert "HttpOnly" in session
        assert "Max-Age=" in session
        assert any(c.startswith('passkey=""') for c in cookies)  # the challenge is gone
        device = next(c for c in cookies if c.startswith("device="))  # a device proof
        assert "HttpOnly" in device
        assert signed.json()["device_token"]
        assert (await other.get("/api/v1/session")).json()["username"] == "alice"
    listed = (await client.get("/api/v1/passkeys")).json()
    assert [item["name"] for item in listed] == ["Work laptop"]
    assert listed[0]["last_used_at"] is not None


async def test_sign_in_goes_to_a_signed_next_only(app: tuple[httpx.AsyncClient, Services]) -> None:
    client, services = app
    await signed_up(client)
    key, _ = await add_passkey(client)
    sig = services.redirects.sign("/account")
    async with browser(client) as other:
        good = await passkey_sign_in(other, key, body={"next": "/account", "sig": sig})
        assert good.json()["location"] == "/account"
        forged = await passkey_sign_in(other, key, body={"next": "/account", "sig": "x"})
        assert forged.json()["location"] == "/welcome"


async def test_csrf_origin_and_media_type_are_checked(
    app: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = app
    await signed_up(client)
    headers = await csrf(client, "/account")
    no_token = await client.post("/api/v1/passkeys/registration", json={})
    assert no_token.status_code == 403
    assert no_token.headers["content-type"] == "application/problem+json"
    foreign = {**headers, "Origin": "https://evil.example"}
    assert (
        await client.post("/api/v1/passkeys/sign-in/options", json={}, headers=foreign)
    ).status_code == 403
    as_form = await client.post("/api/v1/passkeys/registration", data={"a": "b"}, headers=headers)
    assert as_form.status_code == 415
    wrong = {**headers, "X-CSRF-Token": headers["X-CSRF-Token"][:-3] + "abc"}
    assert (await client.delete("/api/v1/passkeys/1", headers=wrong)).status_code == 403


async def test_bearer_clients_need_no_csrf_token(app: tuple[httpx.AsyncClient, Services]) -> None:
    client, _ = app
    await signed_up(client)
    created = await client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
    token = created.json()["token"]
    async with browser(client) as api:
        bearer = {"Authorization": f"Bearer {token}"}
        listed = await api.get("/api/v1/passkeys", headers=bearer)
        assert listed.status_code == 200
        assert listed.json() == []
        started = await api.post("/api/v1/passkeys/registration", json={}, headers=bearer)
        assert started.status_code == 200
        assert started.json()["publicKey"]["user"]["name"] == "alice"


async def test_anonymous_cannot_add_or_list(app: tuple[httpx.AsyncClient, Services]) -> None:
    client, _ = app
    headers = await csrf(client)
    assert (await client.get("/api/v1/passkeys", headers=headers)).status_code == 401
    started = await client.post("/api/v1/passkeys/registration", json={}, headers=headers)
    assert started.status_code == 401
    assert started.json()["type"].endswith("/not_authenticated")


async def test_a_challenge_is_bound_to_its_browser_and_used_once(
    app: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = app
    await signed_up(client)
    key, _ = await add_passkey(client)
    headers = await csrf(client)
    started = await client.post("/api/v1/passkeys/sign-in/options", json={}, headers=headers)
    answer = {"credential": key.get(started.json()["publicKey"])}
    async with browser(client) as thief:
        stolen = await thief.post(
            "/api/v1/passkeys/sign-in", json=answer, headers=await csrf(thief)
        )
        assert stolen.status_code == 400
        assert stolen.json()["type"].endswith("/passkey_challenge")
    state = client.cookies["passkey"]
    first = await client.post("/api/v1/passkeys/sign-in", json=answer, headers=headers)
    assert first.status_code == 201
    client.cookies.set("passkey", state)  # a replay of the same challenge
    again = {"credential": key.get(started.json()["publicKey"])}
    replayed = await client.post("/api/v1/passkeys/sign-in", json=again, headers=headers)
    assert replayed.status_code == 400
    assert replayed.json()["type"].endswith("/passkey_challenge")


async def test_refusals_are_problems_and_sign_nobody_in(
    app: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = app
    await signed_up(client)
    key, _ = await add_passkey(client)
    async with browser(client) as other:
        unverified = await passkey_sign_in(other, key, uv=False)
        assert unverified.status_code == 401
        assert unverified.headers["content-type"] == "application/problem+json"
        assert unverified.json()["type"].endswith("/passkey_refused")
        assert (await passkey_sign_in(other, key)).status_code == 201  # stored counter: 2
        other.cookies.clear()
        backwards = await passkey_sign_in(other, key, count_step=-1)
        assert backwards.status_code == 401
        assert "session=" not in backwards.headers.get("set-cookie", "")
        user = await services.users.by_canon("alice")
        assert user is not None
        await services.users.set_disabled(user.id, True)
        disabled = await passkey_sign_in(other, key)
        assert disabled.status_code == 401
        assert (await other.get("/api/v1/session")).status_code == 401


async def test_remove_on_the_account_page_and_by_api(
    app: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = app
    await signed_up(client)
    first, added = await add_passkey(client, "First")
    _, second = await add_passkey(client, "Second")
    page = await client.get("/account")
    no_csrf = await client.post("/account/passkeys/remove", data={"passkey": str(added["id"])})
    assert no_csrf.status_code == 403
    removed = await client.post(
        "/account/passkeys/remove",
        data={"csrf_token": csrf_of(page.text), "passkey": str(added["id"])},
    )
    assert removed.status_code == 303
    assert removed.headers["location"] == "/account"
    headers = await csrf(client, "/account")
    assert (
        await client.delete(f"/api/v1/passkeys/{added['id']}", headers=headers)
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/passkeys/{second['id']}", headers=headers)
    ).status_code == 204
    assert (await client.get("/api/v1/passkeys")).json() == []
    assert "No passkeys yet." in (await client.get("/account")).text
    async with browser(client) as other:
        refused = await passkey_sign_in(other, first)
        assert refused.status_code == 401


async def test_bad_bodies_are_422_or_400_never_500(
    app: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = app
    await signed_up(client)
    headers = await csrf(client, "/account")
    await client.post("/api/v1/passkeys/registration", json={}, headers=headers)
    no_name = await client.post(
        "/api/v1/passkeys", json={"name": "", "credential": {}}, headers=headers
    )
    assert no_name.status_code == 422
    assert no_name.json()["errors"][0]["field"] == "name"
    garbage = await client.post(
        "/api/v1/passkeys", json={"name": "x", "credential": {"id": 1}}, headers=headers
    )
    assert garbage.status_code == 400
    missing = await client.post("/api/v1/passkeys", json={"name": "x"}, headers=headers)
    assert missing.status_code == 422
    await client.post("/api/v1/passkeys/sign-in/options", json={}, headers=headers)
    nonsense = await client.post(
        "/api/v1/passkeys/sign-in", json={"credential": {"rawId": "!!"}}, headers=headers
    )
    assert nonsense.status_code in (400, 401)
    assert nonsense.headers["content-type"] == "application/problem+json"


async def test_pages_carry_the_passkey_markup(app: tuple[httpx.AsyncClient, Services]) -> None:
    client, _ = app
    sign_in = (await client.get("/sign-in")).text
    assert 'autocomplete="username webauthn"' in sign_in
    assert "data-passkey-sign-in" in sign_in
    assert "Sign in with a passkey" in sign_in
    assert '<script src="/static/js/passkeys.js" defer></script>' in sign_in
    script = await client.get("/static/js/passkeys.js")
    assert script.status_code == 200
    assert "isConditionalMediationAvailable" in script.text
    schema = (await client.get("/api/openapi.json")).json()
    for path in (
        "/api/v1/passkeys",
        "/api/v1/passkeys/registration",
        "/api/v1/passkeys/{passkey_id}",
        "/api/v1/passkeys/sign-in/options",
        "/api/v1/passkeys/sign-in",
    ):
        assert path in schema["paths"]


async def test_cli_lists_and_removes_a_users_passkeys(
    app: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = app
    await signed_up(client)
    _, added = await add_passkey(client, "Lost phone")
    env = {"SIGNIN_DATA_DIR": str(services.settings.data_dir)}
    listed = await asyncio.to_thread(run_signin, env, "passkeys", "list", "Alice")
    assert listed.returncode == 0, listed.stderr
    assert "Lost phone" in listed.stdout
    assert "never" in listed.stdout
    removed = await asyncio.to_thread(
        run_signin, env, "passkeys", "remove", "alice", str(added["id"])
    )
    assert removed.returncode == 0, removed.stderr
    assert f"removed passkey {added['id']} (Lost phone) of alice" in removed.stdout
    assert (await client.get("/api/v1/passkeys")).json() == []
    again = await asyncio.to_thread(
        run_signin, env, "passkeys", "remove", "alice", str(added["id"])
    )
    assert again.returncode == 1
    assert again.stderr.strip() == "error: No such passkey."
    nobody = await asyncio.to_thread(run_signin, env, "passkeys", "list", "nobody")
    assert nobody.returncode == 1
    assert nobody.stderr.count("\n") == 1


async def test_a_verified_address_hears_of_added_and_removed_passkeys(tmp_path: Path) -> None:
    with mail_catcher() as catcher:
        settings = make_settings(tmp_path / "data", public_url=ORIGIN, smtp_url=catcher.url)
        async with running_app(settings, base_url=ORIGIN) as client:
            await sign_up_verified(client, catcher, "zoe", "zoe@example.com")
            _, added = await add_passkey(client, "Zoë's <b>key</b>")
            mails = catcher.wait_for(2)
            notice = mails[-1]
            assert notice.rcpt_tos == ["zoe@example.com"]
            assert notice.subject == "A passkey was added to your account"
            assert "Zoë's <b>key</b>" in notice.text()
            assert "Zoë&#39;s &lt;b&gt;key&lt;/b&gt;" in notice.html()
            headers = await csrf(client, "/account")
            deleted = await client.delete(f"/api/v1/passkeys/{added['id']}", headers=headers)
            assert deleted.status_code == 204
            gone = catcher.wait_for(3)[-1]
            assert gone.subject == "A passkey was removed from your account"
            assert "Zoë's <b>key</b>" in gone.text()
        async with running_app(settings, base_url=ORIGIN) as client:
            await signed_up(client, "nomail")  # no address: nothing to tell, nothing fails
            await add_passkey(client)
            assert catcher.count() == 3
