"""Sign-up modes and invites end to end (SPEC section 12): pages, API and the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from signin.accounts.access.invites import invite_hash
from signin.accounts.errors import InvalidInput, NotFound
from signin.services import build_services
from tests.http.test_forward_auth import services
from tests.support import CHEAP_ARGON2_ENV, form_post, make_settings, run_signin, running_app

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def app_in(tmp_path: Path, clock: Clock, mode: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path / "data", signup=mode)
    async with running_app(settings, services=build_services(settings, clock=clock)) as http:
        yield http


@pytest.fixture
async def invite_only(tmp_path: Path, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async for http in app_in(tmp_path, clock, "invite"):
        yield http


@pytest.fixture
async def closed(tmp_path: Path, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async for http in app_in(tmp_path, clock, "closed"):
        yield http


async def invite(client: httpx.AsyncClient, **options: Any) -> str:
    token, _ = await services(client).invites.create(**options)
    return token


async def api_sign_up(
    client: httpx.AsyncClient, username: str, invite: str | None = None, email: str = ""
) -> httpx.Response:
    body: dict[str, str] = {"username": username, "password": PASSWORD}
    if invite is not None:
        body["invite"] = invite
    if email:
        body["email"] = email
    return await client.post("/api/v1/users", json=body)


async def test_invite_mode_page_explains_and_refuses(invite_only: httpx.AsyncClient) -> None:
    page = await invite_only.get("/sign-up")
    assert page.status_code == 200
    assert 'data-signup-mode="invite"' in page.text
    assert "needs an invite" in page.text
    assert 'name="password"' not in page.text
    posted = await form_post(
        invite_only,
        "/sign-in",
        {"username": "eve", "password": PASSWORD},
        action="/sign-up",
    )
    assert posted.status_code == 403
    assert "needs an invite" in posted.text
    api = await api_sign_up(invite_only, "eve")
    assert api.status_code == 403
    assert api.json()["type"].endswith("/invite_required")
    assert await services(invite_only).users.by_canon("eve") is None


async def test_invite_is_single_use_and_gives_groups(invite_only: httpx.AsyncClient) -> None:
    token = await invite(invite_only, groups=("team", "ops"))
    page = await invite_only.get("/sign-up", params={"invite": token})
    assert page.status_code == 200
    assert f'name="invite" value="{token}"' in page.text
    created = await form_post(
        invite_only,
        f"/sign-up?invite={token}",
        {"username": "ann", "password": PASSWORD, "invite": token},
    )
    assert created.status_code == 303, created.text
    user = await services(invite_only).users.by_canon("ann")
    assert user is not None
    assert user.groups == ("ops", "team")
    again = await api_sign_up(invite_only, "bob", token)
    assert again.status_code == 403
    assert again.json()["type"].endswith("/invite_invalid")
    used_page = await invite_only.get("/sign-up", params={"invite": token})
    assert used_page.status_code == 403
    assert "not valid" in used_page.text


async def test_expiry_and_revoke(invite_only: httpx.AsyncClient, clock: Clock) -> None:
    short = await invite(invite_only, expires_seconds=60)
    clock.now += 60
    assert (await api_sign_up(invite_only, "ann", short)).status_code == 403
    default = await invite(invite_only)
    clock.now += 7 * 86400 - 1
    assert (await invite_only.get("/sign-up", params={"invite": default})).status_code == 200
    clock.now += 1
    assert (await invite_only.get("/sign-up", params={"invite": default})).status_code == 403
    revoked, record = await services(invite_only).invites.create(uses=5)
    await services(invite_only).invites.revoke(record.id)
    assert (await api_sign_up(invite_only, "ann", revoked)).status_code == 403
    assert await services(invite_only).users.list() == []


async def test_email_binding(invite_only: httpx.AsyncClient) -> None:
    token = await invite(invite_only, email="Ann@Example.org", uses=3)
    page = await invite_only.get("/sign-up", params={"invite": token})
    assert 'value="Ann@example.org"' in page.text  # as email_validator normalizes it
    assert "(the address this invite is for)" in page.text
    wrong = await api_sign_up(invite_only, "ann", token, email="other@example.org")
    assert wrong.status_code == 422
    assert "This invite is for Ann@example.org" in wrong.text
    missing = await api_sign_up(invite_only, "ann", token)
    assert missing.status_code == 422
    right = await api_sign_up(invite_only, "ann", token, email="ann@example.org")
    assert right.status_code == 201, right.text
    found = await services(invite_only).invites.store.get(invite_hash(token))
    assert found is not None
    assert found[0].uses == 1  # the refused attempts used nothing


async def test_racing_sign_ups_with_one_invite(invite_only: httpx.AsyncClient) -> None:
    token = await invite(invite_only)
    answers = await asyncio.gather(*(api_sign_up(invite_only, f"user{i}", token) for i in range(6)))
    assert sorted(answer.status_code for answer in answers) == [201] + [403] * 5
    assert len(await services(invite_only).users.list()) == 1


async def test_open_mode_takes_an_invite_for_its_groups(tmp_path: Path, clock: Clock) -> None:
    async for client in app_in(tmp_path, clock, "open"):
        assert (await client.get("/sign-up")).status_code == 200
        assert (await api_sign_up(client, "free")).status_code == 201
        token = await invite(client, groups=("team",))
        assert (await api_sign_up(client, "ann", token)).status_code == 201
        user = await services(client).users.by_canon("ann")
        assert user is not None
        assert user.groups == ("team",)


async def test_closed_mode(closed: httpx.AsyncClient) -> None:
    page = await closed.get("/sign-up")
    assert page.status_code == 403
    assert 'data-signup-mode="closed"' in page.text
    assert "Sign-up is closed" in page.text
    assert 'href="/sign-up"' not in page.text  # not offered in the navigation either
    token = await invite(closed)
    assert (await closed.get("/sign-up", params={"invite": token})).status_code == 403
    assert (await api_sign_up(closed, "eve", token)).status_code == 403
    posted = await form_post(
        closed, "/sign-in", {"username": "eve", "password": PASSWORD}, action="/sign-up"
    )
    assert posted.status_code == 403
    assert await services(closed).users.list() == []


@pytest.mark.slow
def test_cli_invites_and_groups(tmp_path: Path) -> None:
    env = {"SIGNIN_DATA_DIR": str(tmp_path / "data"), "SIGNIN_SIGNUP": "closed"}
    made = run_signin(env, "invites", "create", "--group", "team", "--uses", "2")
    assert made.returncode == 0, made.stderr
    link = made.stdout.splitlines()[0]
    assert link.startswith("http://127.0.0.1:8000/sign-up?invite=")
    token = parse_qs(urlsplit(link).query)["invite"][0]
    assert token not in (tmp_path / "data" / "signin.db").read_bytes().decode("latin-1")
    invite_id = made.stdout.splitlines()[1].split()[1].rstrip(":")
    listed = run_signin(env, "invites", "list")
    assert invite_id in listed.stdout
    assert "open" in listed.stdout
    assert "0/2" in listed.stdout
    assert run_signin(env, "invites", "revoke", invite_id).returncode == 0
    assert "revoked" in run_signin(env, "invites", "list").stdout
    gone = run_signin(env, "invites", "revoke", "nope")
    assert gone.returncode == 1
    assert gone.stderr == "error: No open invite with id 'nope'.\n"
    huge = run_signin(env, "invites", "create", "--expires", "99999999999999999999")
    assert huge.returncode == 1
    assert huge.stderr == "error: Expiry must be from 1 to 31622400 seconds.\n"
    assert run_signin(env, "invites", "list").stdout.count("open") == 0  # nothing was made
    bad = run_signin(env, "invites", "create", "--group", "Bad Name")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: Group name 'Bad Name' is not valid")

    # Closed sign-up: the administrator still makes accounts, and sets their groups.
    created = subprocess_create(env, "alice")
    assert created.returncode == 0, created.stderr
    added = run_signin(env, "users", "groups", "alice", "--add", "admins", "--add", "ops")
    assert added.stdout.strip() == "alice: admins,ops"
    removed = run_signin(env, "users", "groups", "alice", "--remove", "ops")
    assert removed.stdout.strip() == "alice: admins"
    assert run_signin(env, "users", "groups", "nobody").returncode == 1


def subprocess_create(env: dict[str, str], name: str) -> subprocess.CompletedProcess[str]:
    """`signin users create NAME` with the password on standard input."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SIGNIN_")}
    full.update({**CHEAP_ARGON2_ENV, **env})
    return subprocess.run(
        [sys.executable, "-m", "signin", "users", "create", name],
        env=full,
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        timeout=120,
    )


async def test_bad_invite_options_are_refused(invite_only: httpx.AsyncClient) -> None:
    invites = services(invite_only).invites
    for options, field in [
        ({"uses": 0}, "uses"),
        ({"expires_seconds": 0}, "expires"),
        ({"expires_seconds": 366 * 86400 + 1}, "expires"),
        ({"expires_seconds": 10**20}, "expires"),
        ({"email": "not an address"}, "email"),
        ({"groups": ("Staff",)}, "groups"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await invites.create(**options)  # type: ignore[arg-type]
        assert [problem.field for problem in caught.value.problems] == [field]
    assert await invites.all() == []
    with pytest.raises(NotFound):
        await invites.revoke("nope")
