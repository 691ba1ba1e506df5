"""When PostgreSQL or Redis does not answer: 503 with a clear problem, never 500, never a wrong
"signed in"; and when Redis comes back, the running service resumes by itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from signin.app import create_app
from signin.services import build_services
from signin.stores.base import StoreUnavailable
from signin.stores.redis import connect_redis_stores
from signin.stores.sql.engine import create_engine
from signin.stores.sql.users import SqlUserStore
from tests.backends import RedisServer
from tests.support import (
    CHEAP_ARGON2_ENV,
    ServerProcess,
    csrf_of,
    free_port,
    make_settings,
    need,
)

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"


def closed_port_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/signin"


async def test_postgres_down_answers_503_everywhere(tmp_path: Path) -> None:
    """The app on a PostgreSQL URL where nothing listens: health, sign-in, sign-up and session
    checks all answer 503 (problem+json for the API, a page for people)."""
    settings = make_settings(
        tmp_path / "data", database_url=closed_port_url(), cookie_secure="false"
    )
    app = create_app(settings, services=build_services(settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.headers["content-type"] == PROBLEM
            assert health.json()["checks"]["database"].startswith("error")
            for method, path, body in [
                ("POST", "/api/v1/session", {"username": "alice", "password": PASSWORD}),
                ("POST", "/api/v1/users", {"username": "alice", "password": PASSWORD}),
            ]:
                response = await client.request(method, path, json=body)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["content-type"] == PROBLEM
                assert "temporarily unavailable" in response.json()["detail"]
            bearer = {"Authorization": "Bearer " + "x" * 43}
            assert (await client.get("/api/v1/session", headers=bearer)).status_code == 503
            assert (await client.get("/sign-in")).status_code == 200  # the form needs no store
            client.cookies.set("session", "x" * 43)
            page = await client.get("/welcome")
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "temporarily unavailable" in page.text


def test_serve_refuses_to_start_without_its_database(tmp_path: Path) -> None:
    """`signin serve` with PostgreSQL down: one clear line, non-zero exit, no traceback."""
    env = {
        **os.environ,
        **CHEAP_ARGON2_ENV,
        "SIGNIN_DATA_DIR": str(tmp_path / "data"),
        "SIGNIN_DATABASE_URL": closed_port_url(),
    }
    result = subprocess.run(
        [sys.executable, "-m", "signin", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "cannot migrate the database" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, not started yet."""
    server = RedisServer(tmp_path / "redis")
    need(server.binary is not None, "redis-server")
    try:
        yield server
    finally:
        server.stop()


def wait_for_health(url: str, status: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc is None or proc.poll() is None, "signin serve exited"
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == status:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"/healthz did not answer {status} in time"
        time.sleep(0.1)


@pytest.fixture
def served(redis_server: RedisServer, tmp_path: Path) -> Iterator[ServerProcess]:
    """`signin serve` started while its Redis is down: it starts (only the database must answer
    at start), says 503 on /healthz, and turns healthy when Redis comes up, without a restart."""
    process = ServerProcess(
        {
            "SIGNIN_DATA_DIR": str(tmp_path / "data"),
            "SIGNIN_REDIS_URL": redis_server.url,
            "SIGNIN_COOKIE_SECURE": "false",
        },
        log_path=tmp_path / "serve.log",
    )
    with open(tmp_path / "serve.log", "ab") as log:
        process.proc = subprocess.Popen(
            [sys.executable, "-m", "signin", "serve", "--port", str(process.port)],
            env=process.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_health(process.url, 503, process.proc)
        redis_server.start()
        wait_for_health(process.url, 200, process.proc)
        yield process
    finally:
        process.stop()


async def sign_in(client: httpx.AsyncClient, base: str, name: str) -> httpx.Response:
    client.cookies.clear()
    return await client.post(
        base + "/api/v1/session", json={"username": name, "password": PASSWORD}
    )


async def test_redis_down_then_back(
    served: ServerProcess, redis_server: RedisServer, tmp_path: Path
) -> None:
    base = served.url
    async with httpx.AsyncClient(timeout=20) as client:
        created = await client.post(
            base + "/api/v1/users", json={"username": "rita", "password": PASSWORD}
        )
        assert created.status_code == 201
        session = await sign_in(client, base, "rita")
        assert session.status_code == 201
        token = session.json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await client.get(base + "/api/v1/session", headers=bearer)).status_code == 200

        redis_server.stop()

        health = await client.get(base + "/healthz")
        assert health.status_code == 503
        assert health.json()["checks"]["redis"].startswith("error")
        assert health.json()["checks"]["database"] == "ok"

        refused = await sign_in(client, base, "rita")
        assert refused.status_code == 503
        assert refused.headers["content-type"] == PROBLEM
        assert "temporarily unavailable" in refused.json()["detail"]
        assert "retry-after" in refused.headers

        checked = await client.get(base + "/api/v1/session", headers=bearer)
        assert checked.status_code in (401, 503)
        forward = await client.get(base + "/api/v1/verify", headers=bearer)
        assert forward.status_code in (401, 503)
        assert "remote-user" not in forward.headers

        client.cookies.clear()
        form = await client.get(base + "/sign-in")  # needs no store: people can still try
        assert form.status_code == 200
        page = await client.post(
            base + "/sign-in",
            data={"csrf_token": csrf_of(form.text), "username": "rita", "password": PASSWORD},
        )
        assert page.status_code == 503
        assert "temporarily unavailable" in page.text
        assert "session=" not in page.headers.get("set-cookie", "")
        client.cookies.set("session", token)
        welcome = await client.get(base + "/welcome")
        assert welcome.status_code in (303, 503)
        assert "rita" not in welcome.text

        # Sign-ups are counted per client IP beside the locks, in Redis (SPEC 16): without
        # Redis none is taken unchecked, on the API or the page; 503, and nothing is made.
        late = await client.post(
            base + "/api/v1/users", json={"username": "late", "password": PASSWORD}
        )
        assert late.status_code == 503
        assert late.headers["content-type"] == PROBLEM
        assert "retry-after" in late.headers
        client.cookies.clear()
        form = await client.get(base + "/sign-up")
        signed_up = await client.post(
            base + "/sign-up",
            data={"csrf_token": csrf_of(form.text), "username": "paula", "password": PASSWORD},
        )
        assert signed_up.status_code == 503
        assert "session=" not in signed_up.headers.get("set-cookie", "")

        await assert_stores_raise_unavailable(redis_server.url, tmp_path)

        redis_server.start()
        deadline = time.monotonic() + 15
        while (await client.get(base + "/healthz")).status_code != 200:
            assert time.monotonic() < deadline, "signin did not resume after Redis came back"
            await asyncio.sleep(0.2)

        # The restarted Redis kept nothing (no persistence): the old token is simply unknown.
        assert (await client.get(base + "/api/v1/session", headers=bearer)).status_code == 401
        again = await sign_in(client, base, "rita")
        assert again.status_code == 201
        fresh = {"Authorization": f"Bearer {again.json()['token']}"}
        assert (await client.get(base + "/api/v1/session", headers=fresh)).status_code == 200
        for name in ("late", "paula"):  # refused during the outage, so never made
            made = await client.post(
                base + "/api/v1/users", json={"username": name, "password": PASSWORD}
            )
            assert made.status_code == 201
            assert (await sign_in(client, base, name)).status_code == 201

    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log
    assert PASSWORD not in log


async def assert_stores_raise_unavailable(url: str, tmp_path: Path) -> None:
    """Each store call meets a closed port as `StoreUnavailable`, the one error the web maps."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'signin.db'}")
    stores = connect_redis_stores(url, users=SqlUserStore(engine))
    try:
        calls = [
            stores.locks.reserve("rita", time.time(), 600),
            stores.locks.list(time.time(), 600),
            stores.sessions.lookup(b"\0" * 32),
            stores.sessions.list_all(),
            stores.ping(),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable):
                await call
    finally:
        await stores.close()
        await engine.dispose()
