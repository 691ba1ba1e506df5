"""Two real `signin serve` processes sharing PostgreSQL and Redis, as behind a load balancer.

Both start at once on an empty database (their migrations meet the advisory lock), each with its
own data directory, so everything they share goes through PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from signin.accounts.usernames import canon
from signin.stores.redis import connect_redis_stores
from signin.stores.sql.engine import create_engine
from signin.stores.sql.users import SqlUserStore
from tests.backends import flush_redis, fresh_database, need_postgres, need_redis
from tests.support import ServerProcess, csrf_of, run_signin

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
PASSWORD = "correct horse battery"


class Pair:
    def __init__(self, a: ServerProcess, b: ServerProcess, env: dict[str, str]) -> None:
        self.a, self.b, self.env = a, b, env


@contextmanager
def two_servers(tmp: Path, shared: dict[str, str], cli_env: dict[str, str]) -> Iterator[Pair]:
    """Instances `a` and `b` on `shared` settings, each with its own data directory under
    `tmp`, started at once and stopped afterwards; the pair's `env` is `cli_env`."""
    servers = [
        ServerProcess({**shared, "SIGNIN_DATA_DIR": str(tmp / name)}, log_path=tmp / f"{name}.log")
        for name in ("a", "b")
    ]
    start_together(servers)
    try:
        yield Pair(servers[0], servers[1], cli_env)
    finally:
        for server in servers:
            server.stop()


def start_together(servers: list[ServerProcess]) -> None:
    errors: list[BaseException] = []

    def start(server: ServerProcess) -> None:
        try:
            server.start(timeout=60)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    if errors:
        for server in servers:
            server.stop()
        raise errors[0]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    pg_server, redis_url = need_postgres(), need_redis()
    flush_redis(redis_url)
    tmp = tmp_path_factory.mktemp("two")
    with fresh_database(pg_server) as database_url:
        shared = {
            "SIGNIN_DATABASE_URL": database_url,
            "SIGNIN_REDIS_URL": redis_url,
            # One secret for both: a form served by A may be posted to B (CSRF, signed links).
            "SIGNIN_SECRET_KEY": secrets.token_urlsafe(32),
            "SIGNIN_COOKIE_SECURE": "false",
            # All test traffic comes from 127.0.0.1: keep the IP lock out of the username test.
            "SIGNIN_IP_LOCK_MAX_FAILURES": "1000",
        }
        with two_servers(tmp, shared, {**shared, "SIGNIN_DATA_DIR": str(tmp / "cli")}) as pair:
            yield pair
        flush_redis(redis_url)


def fresh_name(stem: str) -> str:
    return f"{stem}_{secrets.token_hex(3)}"


async def page_post(
    client: httpx.AsyncClient,
    base: str,
    page: str,
    data: dict[str, str],
    *,
    form_page: str | None = None,
) -> httpx.Response:
    """GET the form (for its CSRF token and cookie), then POST `data` to `page`."""
    form = await client.get(base + (form_page or page))
    return await client.post(base + page, data={"csrf_token": csrf_of(form.text), **data})


async def test_both_report_healthy_database_and_redis(pair: Pair) -> None:
    async with httpx.AsyncClient() as client:
        for server in (pair.a, pair.b):
            health = await client.get(server.url + "/healthz")
            assert health.status_code == 200
            assert health.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_pages_sign_up_on_a_sign_in_on_b_sign_out_on_a(pair: Pair) -> None:
    name = fresh_name("ada")
    async with httpx.AsyncClient() as on_a:
        signed_up = await page_post(
            on_a, pair.a.url, "/sign-up", {"username": name, "password": PASSWORD}
        )
        assert signed_up.status_code == 303
    async with httpx.AsyncClient() as on_b:
        signed_in = await page_post(
            on_b, pair.b.url, "/sign-in", {"username": name, "password": PASSWORD}
        )
        assert signed_in.status_code == 303
        token = signed_in.cookies["session"]
        assert (await on_b.get(pair.b.url + "/welcome")).status_code == 200
    async with httpx.AsyncClient(cookies={"session": token}) as carried_to_a:
        welcome = await carried_to_a.get(pair.a.url + "/welcome")
        assert welcome.status_code == 200
        assert name in welcome.text
        signed_out = await page_post(carried_to_a, pair.a.url, "/sign-out", {})
        assert signed_out.status_code == 303
    async with httpx.AsyncClient(cookies={"session": token}) as replay_on_b:
        after = await replay_on_b.get(pair.b.url + "/welcome")
        assert after.status_code == 303
        assert after.headers["location"].startswith("/sign-in")
        assert name not in after.text
        api = await replay_on_b.get(pair.b.url + "/api/v1/session")
        assert api.status_code == 401


async def test_api_token_from_b_works_on_a_until_deleted_on_a(pair: Pair) -> None:
    name = fresh_name("bea")
    async with httpx.AsyncClient() as client:
        created = await client.post(
            pair.a.url + "/api/v1/users", json={"username": name, "password": PASSWORD}
        )
        assert created.status_code == 201
        session = await client.post(
            pair.b.url + "/api/v1/session", json={"username": name, "password": PASSWORD}
        )
        assert session.status_code == 201
        bearer = {"Authorization": f"Bearer {session.json()['token']}"}
        client.cookies.clear()
        on_a = await client.get(pair.a.url + "/api/v1/session", headers=bearer)
        assert on_a.status_code == 200
        assert on_a.json()["username"] == name
        assert (
            await client.delete(pair.a.url + "/api/v1/session", headers=bearer)
        ).status_code == 204
        assert (await client.get(pair.b.url + "/api/v1/session", headers=bearer)).status_code == 401
        assert (await client.get(pair.a.url + "/api/v1/session", headers=bearer)).status_code == 401


async def test_concurrent_wrong_attempts_on_both_allow_three_checks(pair: Pair) -> None:
    """20 wrong passwords at once, split over A and B: three are checked (401), the rest 429;
    afterwards even the right password is refused, and the lock state is one for both."""
    name = fresh_name("cyd")
    async with httpx.AsyncClient(timeout=30) as client:
        created = await client.post(
            pair.a.url + "/api/v1/users", json={"username": name, "password": PASSWORD}
        )
        assert created.status_code == 201
        attempts = [
            client.post(
                (pair.a.url if i % 2 else pair.b.url) + "/api/v1/session",
                json={"username": name, "password": f"wrong password {i}"},
            )
            for i in range(20)
        ]
        statuses = [response.status_code for response in await asyncio.gather(*attempts)]
        # Atomic reservation: the counts 1..20 are handed out once each, so exactly the
        # first three attempts reach the password check.
        assert sorted(statuses) == [401] * 3 + [429] * 17
        right = await client.post(
            pair.b.url + "/api/v1/session", json={"username": name, "password": PASSWORD}
        )
        assert right.status_code == 429
        assert int(right.headers["retry-after"]) > 0
    await assert_lock_state(pair, canon(name), failures=21)

    # `signin locks` run beside A and beside B (each with its own settings and data dir) sees
    # one state; clearing it on B's side lets the right password in on A.
    for server in (pair.a, pair.b):
        listed = await asyncio.to_thread(run_cli, server.env, "locks", "list", "--locked")
        assert listed.returncode == 0, listed.stderr
        rows = [line.split("│") for line in listed.stdout.splitlines() if canon(name) in line]
        assert [[cell.strip() for cell in row[1:4]] for row in rows] == [[canon(name), "21", "yes"]]
    cleared = await asyncio.to_thread(run_cli, pair.b.env, "locks", "clear", name)
    assert cleared.returncode == 0, cleared.stderr
    async with httpx.AsyncClient() as client:
        right = await client.post(
            pair.a.url + "/api/v1/session", json={"username": name, "password": PASSWORD}
        )
        assert right.status_code == 201


async def assert_lock_state(pair: Pair, key: str, *, failures: int) -> None:
    """What every instance reads: the lock record in the shared Redis."""
    engine = create_engine(
        "postgresql+asyncpg://" + pair.env["SIGNIN_DATABASE_URL"].split("://")[1]
    )
    stores = connect_redis_stores(pair.env["SIGNIN_REDIS_URL"], users=SqlUserStore(engine))
    try:
        record = await stores.locks.get(key, time.time(), 600)
        assert record is not None
        assert record.failures == failures
    finally:
        await stores.close()
        await engine.dispose()


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_signin(env, *args, timeout=60)


async def test_cli_sees_and_ends_sessions_made_on_both(pair: Pair) -> None:
    """`signin sessions` on a third process sees the sessions of A and B and ends them on both."""
    name = fresh_name("dot")
    async with httpx.AsyncClient() as client:
        created = await client.post(
            pair.a.url + "/api/v1/users", json={"username": name, "password": PASSWORD}
        )
        assert created.status_code == 201
        tokens = []
        for server in (pair.a, pair.b, pair.b):
            client.cookies.clear()  # a sign-in ends the session whose cookie it carries
            session = await client.post(
                server.url + "/api/v1/session", json={"username": name, "password": PASSWORD}
            )
            assert session.status_code == 201
            tokens.append(session.json()["token"])
        client.cookies.clear()
        listed = await asyncio.to_thread(run_cli, pair.env, "sessions", "list", name)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count("127.0.0.1") == 3
        ended = await asyncio.to_thread(run_cli, pair.env, "sessions", "end", "--user", name)
        assert ended.returncode == 0, ended.stderr
        assert f"ended 3 sessions of {name}" in ended.stdout
        for token in tokens:
            bearer = {"Authorization": f"Bearer {token}"}
            for server in (pair.a, pair.b):
                mine = await client.get(server.url + "/api/v1/session", headers=bearer)
                assert mine.status_code == 401


async def test_account_page_and_password_change_across_instances(pair: Pair) -> None:
    """/account on B lists the sessions made on A and B; a password change on B ends the
    other sessions, which A then refuses."""
    name = fresh_name("eve")
    async with httpx.AsyncClient() as client:
        created = await client.post(
            pair.a.url + "/api/v1/users", json={"username": name, "password": PASSWORD}
        )
        assert created.status_code == 201
    async with httpx.AsyncClient() as on_a:
        signed_in = await page_post(
            on_a, pair.a.url, "/sign-in", {"username": name, "password": PASSWORD}
        )
        assert signed_in.status_code == 303
        token_a = signed_in.cookies["session"]
    async with httpx.AsyncClient() as on_b:
        signed_in = await page_post(
            on_b, pair.b.url, "/sign-in", {"username": name, "password": PASSWORD}
        )
        assert signed_in.status_code == 303
        account = await on_b.get(pair.b.url + "/account")
        assert account.status_code == 200
        assert account.text.count("<tr data-session=") == 2  # made on A and on B
        assert account.text.count("data-current") == 1
        changed = await page_post(
            on_b,
            pair.b.url,
            "/account/password",
            {"current_password": PASSWORD, "password": "a new battery horse staple"},
            form_page="/account",
        )
        assert changed.status_code == 303
        assert (await on_b.get(pair.a.url + "/api/v1/session")).status_code == 200
    async with httpx.AsyncClient(cookies={"session": token_a}) as old_on_a:
        assert (await old_on_a.get(pair.a.url + "/api/v1/session")).status_code == 401
    async with httpx.AsyncClient() as client:
        old = await client.post(
            pair.a.url + "/api/v1/session", json={"username": name, "password": PASSWORD}
        )
        assert old.status_code == 401
        new = await client.post(
            pair.b.url + "/api/v1/session",
            json={"username": name, "password": "a new battery horse staple"},
        )
        assert new.status_code == 201
