"""A `next` holding control characters is ignored like any refused target (SPEC 6, issue 27).

Signed or not, such a target never reaches a Location header, and the form around it is not
refused either: the page renders normally and a successful post goes to the default destination.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from signin.accounts.redirects import RedirectPolicy
from tests.support import form_post, make_settings, running_app

PASSWORD = "correct horse battery"
TARGETS = [
    "/welcome\r\nSet-Cookie: stolen=1",
    "/welcome\x00",
    "/wel\x7fcome",
    "/welcome%0d%0aSet-Cookie:%20stolen=1",
    "/wel\tcome",
    "/welcome\n",
]
SIGNATURES = ["signed", "unsigned", "wrong"]


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings(tmp_path / "data")) as http:
        response = await http.post(
            "/api/v1/users", json={"username": "alice", "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        yield http


def redirect(client: httpx.AsyncClient, target: str, how: str) -> dict[str, str]:
    """`next` with a signature made by the redirect key itself (as a leaked key would), none,
    or a wrong one."""
    policy: RedirectPolicy = client.app.state.services.redirects  # type: ignore[attr-defined]
    if how == "unsigned":
        return {"next": target}
    sig = policy.signer.sign(target if how == "signed" else "/welcome")
    return {"next": target, "sig": sig}


def assert_no_target(response: httpx.Response) -> None:
    assert 'name="next"' not in response.text
    assert 'name="sig"' not in response.text
    assert "stolen" not in response.text


@pytest.mark.parametrize("how", SIGNATURES)
@pytest.mark.parametrize("target", TARGETS)
async def test_the_sign_in_page_renders_without_the_target(
    web: httpx.AsyncClient, target: str, how: str
) -> None:
    page = await web.get("/sign-in?" + urlencode(redirect(web, target, how)))
    assert page.status_code == 200
    assert_no_target(page)
    for path in ("/sign-up", "/sign-out"):
        other = await web.get(path + "?" + urlencode(redirect(web, target, how)))
        assert other.status_code == 200, path
        assert_no_target(other)


@pytest.mark.parametrize("how", SIGNATURES)
@pytest.mark.parametrize("target", TARGETS)
async def test_sign_in_goes_to_the_default_destination(
    web: httpx.AsyncClient, target: str, how: str
) -> None:
    extra = redirect(web, target, how)
    fields = {"username": "alice", "password": PASSWORD, **extra}
    response = await form_post(web, "/sign-in?" + urlencode(extra), fields)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/welcome"
    assert "stolen" not in response.headers.get("set-cookie", "")
    assert (await web.get("/api/v1/session")).status_code == 200


@pytest.mark.parametrize("target", TARGETS)
async def test_a_failed_sign_in_drops_the_target(web: httpx.AsyncClient, target: str) -> None:
    extra = redirect(web, target, "signed")
    fields = {"username": "alice", "password": "wrong password", **extra}
    response = await form_post(web, "/sign-in", fields)
    assert response.status_code == 401
    assert_no_target(response)


@pytest.mark.parametrize("target", TARGETS)
async def test_sign_up_and_sign_out_go_to_their_defaults(
    web: httpx.AsyncClient, target: str
) -> None:
    extra = redirect(web, target, "signed")
    fields = {"username": "bob", "password": PASSWORD, **extra}
    response = await form_post(web, "/sign-up", fields)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/welcome"
    ended = await form_post(web, "/sign-out", extra)
    assert ended.status_code == 303
    assert ended.headers["location"] == "/sign-in"
    assert (await web.get("/api/v1/session")).status_code == 401


async def test_other_fields_with_control_characters_are_still_refused(
    web: httpx.AsyncClient,
) -> None:
    """Only the redirect pair is dropped; a username with a NUL is still a 422."""
    response = await form_post(web, "/sign-up", {"username": "bo\x00b", "password": PASSWORD})
    assert response.status_code == 422
