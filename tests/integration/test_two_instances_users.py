"""A change to a user reaches the very next session check on every instance (SPEC section 11).

Two real `signin serve` processes share PostgreSQL and Redis; the checks answer from the user's
facts kept in Redis (stores/redis/users.py), so these tests first make both instances answer
(the facts are then kept), then change the user through the other instance or the CLI.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.integration.test_two_instances import Pair, fresh_name, pair, run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
__all__ = ["pair"]  # the module-scoped pair of servers, started anew for this module
PASSWORD = "correct horse battery"


async def checks(client: httpx.AsyncClient, pair: Pair, token: str) -> list[httpx.Response]:
    """The session check and forward-auth on A, then on B, with `token` as the bearer."""
    bearer = {"Authorization": f"Bearer {token}"}
    client.cookies.clear()
    return [
        await client.get(server.url + path, headers=bearer)
        for server in (pair.a, pair.b)
        for path in ("/api/v1/session", "/api/v1/verify")
    ]


async def new_account_token(
    client: httpx.AsyncClient, up_on: str, in_on: str, name: str, email: str | None = None
) -> str:
    """Sign `name` up on the instance at `up_on`, sign in on `in_on`; the session token."""
    created = await client.post(
        up_on + "/api/v1/users", json={"username": name, "password": PASSWORD, "email": email}
    )
    assert created.status_code == 201
    client.cookies.clear()
    session = await client.post(
        in_on + "/api/v1/session", json={"username": name, "password": PASSWORD}
    )
    assert session.status_code == 201
    token: str = session.json()["token"]
    return token


def verification_path(data_dir: Path, email: str) -> str:
    """The verification link's path from the mail that instance wrote to its outbox."""
    for mail in sorted((data_dir / "outbox").glob("*.eml")):
        text = mail.read_text()
        if email in text:
            link = next(line for line in text.splitlines() if "/verify-email?token=" in line)
            return link[link.index("/verify-email?token=") :].strip()
    raise AssertionError(f"no verification mail to {email}")


async def test_email_verified_on_b_shows_in_forward_auth_on_a(pair: Pair) -> None:
    name = fresh_name("vera")
    email = f"{name}@example.org"
    async with httpx.AsyncClient() as client:
        token = await new_account_token(client, pair.a.url, pair.b.url, name, email)
        before = await checks(client, pair, token)
        assert [r.status_code for r in before] == [200] * 4
        assert [r.headers.get("remote-email") for r in before[1::2]] == [None, None]

        path = verification_path(Path(pair.a.env["SIGNIN_DATA_DIR"]), email)
        client.cookies.clear()
        opened = await client.get(pair.b.url + path)
        assert opened.status_code in (200, 303)

        after = await checks(client, pair, token)
        assert [r.status_code for r in after] == [200] * 4
        assert [r.headers.get("remote-email") for r in after[1::2]] == [email, email]
        assert [r.headers["remote-user"] for r in after[1::2]] == [name, name]


async def test_disable_by_cli_refuses_the_next_check_on_both(pair: Pair) -> None:
    name = fresh_name("dina")
    async with httpx.AsyncClient() as client:
        token = await new_account_token(client, pair.a.url, pair.a.url, name)
        assert [r.status_code for r in await checks(client, pair, token)] == [200] * 4

        disabled = await asyncio.to_thread(run_cli, pair.env, "users", "disable", name)
        assert disabled.returncode == 0, disabled.stderr
        refused = await checks(client, pair, token)
        assert [r.status_code for r in refused] == [401] * 4
        assert all("remote-user" not in r.headers for r in refused)
        client.cookies.clear()
        again = await client.post(
            pair.b.url + "/api/v1/session", json={"username": name, "password": PASSWORD}
        )
        assert again.status_code == 401  # a disabled account cannot sign in either

        enabled = await asyncio.to_thread(run_cli, pair.env, "users", "disable", "--enable", name)
        assert enabled.returncode == 0, enabled.stderr
        client.cookies.clear()
        back = await client.post(
            pair.b.url + "/api/v1/session", json={"username": name, "password": PASSWORD}
        )
        assert back.status_code == 201
        answers = await checks(client, pair, back.json()["token"])
        assert [r.status_code for r in answers] == [200] * 4


async def test_delete_by_cli_refuses_the_next_check_on_both(pair: Pair) -> None:
    name = fresh_name("dora")
    async with httpx.AsyncClient() as client:
        token = await new_account_token(client, pair.b.url, pair.b.url, name)
        assert [r.status_code for r in await checks(client, pair, token)] == [200] * 4
        deleted = await asyncio.to_thread(run_cli, pair.env, "users", "delete", "--yes", name)
        assert deleted.returncode == 0, deleted.stderr
        assert [r.status_code for r in await checks(client, pair, token)] == [401] * 4


async def test_groups_changed_by_cli_show_in_forward_auth_on_both(pair: Pair) -> None:
    name = fresh_name("gert")
    async with httpx.AsyncClient() as client:
        token = await new_account_token(client, pair.a.url, pair.b.url, name)
        before = await checks(client, pair, token)
        assert [r.status_code for r in before] == [200] * 4
        assert [r.headers.get("remote-groups") for r in before[1::2]] == [None, None]

        added = await asyncio.to_thread(
            run_cli, pair.env, "users", "groups", name, "--add", "staff", "--add", "ops"
        )
        assert added.returncode == 0, added.stderr
        after = await checks(client, pair, token)
        assert [r.status_code for r in after] == [200] * 4
        assert [r.headers.get("remote-groups") for r in after[1::2]] == ["ops,staff"] * 2

        removed = await asyncio.to_thread(
            run_cli, pair.env, "users", "groups", name, "--remove", "ops"
        )
        assert removed.returncode == 0, removed.stderr
        last = await checks(client, pair, token)
        assert [r.headers.get("remote-groups") for r in last[1::2]] == ["staff", "staff"]
