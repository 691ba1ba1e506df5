"""Sign-up abuse: look-alike usernames and floods from one address (SPEC section 16)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from signin.settings import Settings
from tests.http.test_api import assert_problem
from tests.support import form_post, make_settings, running_app

PASSWORD = "correct horse battery"


async def sign_up(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post("/api/v1/users", json={"username": username, "password": PASSWORD})


async def test_a_look_alike_of_an_account_is_taken(client: httpx.AsyncClient) -> None:
    assert (await sign_up(client, "coco")).status_code == 201
    assert (await sign_up(client, "admin1")).status_code == 201
    assert_problem(await sign_up(client, "сосо"), 409)  # Cyrillic, one script
    assert_problem(await sign_up(client, "adminl"), 409)
    page = await form_post(client, "/sign-up", {"username": "сосо", "password": PASSWORD})
    assert page.status_code == 409


@pytest.mark.parametrize(
    ("existing", "look_alike"),
    [("scope", "ѕсоре"), ("ABE", "ΑΒΕ"), ("kopa", "КОРА")],  # all Cyrillic; all Greek; Cyrillic
)
async def test_a_single_script_look_alike_is_taken_not_mixed(
    client: httpx.AsyncClient, existing: str, look_alike: str
) -> None:
    """Issue 27: `ѕсоре` beside `scope` writes one script; it is refused as taken (409)."""
    assert (await sign_up(client, existing)).status_code == 201
    body = assert_problem(await sign_up(client, look_alike), 409)
    assert body["detail"] == "That username is taken."
    page = await form_post(client, "/sign-up", {"username": look_alike, "password": PASSWORD})
    assert page.status_code == 409
    assert "That username is taken." in page.text
    assert "scripts" not in page.text
    users = await client.app.state.services.users.list()  # type: ignore[attr-defined]
    assert [user.username for user in users] == [existing]


async def test_names_in_other_scripts_sign_up(client: httpx.AsyncClient) -> None:
    """One script that looks like no existing name: accepted (Greek, Cyrillic, CJK, Arabic)."""
    assert (await sign_up(client, "scope")).status_code == 201
    for name in ("Ελένη", "Дмитрий", "山田太郎", "مرحبا"):
        assert (await sign_up(client, name)).status_code == 201, name


async def test_a_mixed_script_username_is_refused(client: httpx.AsyncClient) -> None:
    assert (await sign_up(client, "admin")).status_code == 201
    body = assert_problem(await sign_up(client, "аdmin"), 422)  # Cyrillic а
    assert "scripts" in str(body["detail"]) or "scripts" in str(body)
    page = await form_post(client, "/sign-up", {"username": "paypаl", "password": PASSWORD})
    assert page.status_code == 422
    assert "different scripts" in page.text


async def test_sign_ups_from_one_address_are_limited(tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path / "data", signup_limit_per_ip=2)
    async with running_app(settings) as client:
        assert (await sign_up(client, "first")).status_code == 201
        assert_problem(await sign_up(client, "аbc"), 422)  # a refused sign-up counts too
        refused = await sign_up(client, "third")
        assert_problem(refused, 429)
        assert int(refused.headers["retry-after"]) == settings.lock_seconds
        page = await form_post(client, "/sign-up", {"username": "fourth", "password": PASSWORD})
        assert page.status_code == 429
        other = httpx.ASGITransport(app=client.app, client=("198.51.100.9", 1))  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=other, base_url="http://testserver") as elsewhere:
            assert (await sign_up(elsewhere, "third")).status_code == 201
        users = await client.app.state.services.users.list()  # type: ignore[attr-defined]
        assert {user.username for user in users} == {"first", "third"}
