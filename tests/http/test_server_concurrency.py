"""A real `signin serve` process: concurrent sign-ups and sign-ins, kill -9, no secrets at rest.

Every sign-up that was acknowledged must survive `kill -9`; no request may fail with a 5xx
("database is locked" included); neither the typed password nor its pre-hash may appear in the
database file, its WAL, or the server's debug log.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from signin.crypto.prehash import prehash_v1
from tests.support import ServerProcess

pytestmark = pytest.mark.slow

PASSWORD = "Plain-Text-Marker-7f3a9 horse"
PREHASH_PASSWORD = "Prehash-Only-Marker-c41d battery"


def server_env(data_dir: Path) -> dict[str, str]:
    return {
        "SIGNIN_DATA_DIR": str(data_dir),
        "SIGNIN_LOG_LEVEL": "debug",
        "SIGNIN_LOCK_MAX_FAILURES": "1000",
        "SIGNIN_IP_LOCK_MAX_FAILURES": "100000",
        # Every sign-up here comes from one client; the per-IP limit has tests of its own.
        "SIGNIN_SIGNUP_LIMIT_PER_IP": "100000",
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("live")
    process = ServerProcess(server_env(root / "data"), log_path=root / "server.log").start()
    try:
        yield process
    finally:
        process.stop()


async def post_json(client: httpx.AsyncClient, path: str, body: dict[str, str]) -> int:
    response = await client.post(path, json=body)
    return response.status_code


async def test_30_concurrent_sign_ups_of_one_name(live: ServerProcess) -> None:
    variants = ["Racer", "RACER", "racer", "ｒａｃｅｒ", "rAcEr"]
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as client:
        statuses = await asyncio.gather(
            *(
                post_json(
                    client,
                    "/api/v1/users",
                    {"username": variants[i % len(variants)], "password": PASSWORD},
                )
                for i in range(30)
            )
        )
    counts = Counter(statuses)
    assert counts[201] == 1, counts
    assert counts[409] == 29, counts
    assert not [s for s in statuses if s >= 500]


async def page_sign_up(client: httpx.AsyncClient, username: str) -> int:
    import re

    page = await client.get("/sign-up")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await client.post(
        "/sign-up", data={"csrf_token": token.group(1), "username": username, "password": PASSWORD}
    )
    return response.status_code


async def test_40_concurrent_mixed_sign_ins_and_sign_ups(live: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as setup:
        for i in range(5):
            assert (
                await post_json(
                    setup, "/api/v1/users", {"username": f"mix{i}", "password": PASSWORD}
                )
                == 201
            )

    async def one(i: int) -> int:
        # Each task is its own browser (own cookie jar).
        async with httpx.AsyncClient(base_url=live.url, timeout=60) as client:
            kind = i % 4
            if kind == 0:
                return await post_json(
                    client, "/api/v1/users", {"username": f"new{i}", "password": PASSWORD}
                )
            if kind == 1:
                return await post_json(
                    client, "/api/v1/session", {"username": f"mix{i % 5}", "password": PASSWORD}
                )
            if kind == 2:
                return await post_json(
                    client, "/api/v1/session", {"username": f"mix{i % 5}", "password": "wrong one"}
                )
            return await page_sign_up(client, f"page{i}")

    statuses = await asyncio.gather(*(one(i) for i in range(40)))
    assert not [s for s in statuses if s >= 500], statuses
    expected = [(201, 201, 401, 303)[i % 4] for i in range(40)]
    assert statuses == expected


def db_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("signin.db*")))


def secret_forms(password: str, usernames: list[str]) -> list[bytes]:
    """The password, each pre-hash, and the pre-hash's base64 body alone."""
    forms = [password.encode()]
    for name in usernames:
        pre = prehash_v1(name, password)
        forms += [pre.encode(), pre[3:-1].encode(), base64.b64decode(pre[3:-1])]
    return forms


def test_acknowledged_sign_ups_survive_kill_9_and_nothing_secret_at_rest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log_path = tmp_path / "server.log"
    names = [f"durable{i:02d}" for i in range(50)]
    process = ServerProcess(server_env(data_dir), log_path=log_path).start()
    try:

        async def sign_ups() -> list[int]:
            async with httpx.AsyncClient(base_url=process.url, timeout=60) as client:
                statuses = list(
                    await asyncio.gather(
                        *(
                            post_json(
                                client, "/api/v1/users", {"username": n, "password": PASSWORD}
                            )
                            for n in names
                        )
                    )
                )
                # One account by pre-hash (the browser path), one failed sign-in each way.
                statuses.append(
                    await post_json(
                        client,
                        "/api/v1/users",
                        {
                            "username": "browser",
                            "password": prehash_v1("browser", PREHASH_PASSWORD),
                        },
                    )
                )
                statuses.append(
                    await post_json(
                        client,
                        "/api/v1/session",
                        {"username": "durable00", "password": PREHASH_PASSWORD},
                    )
                )
                statuses.append(
                    await post_json(
                        client,
                        "/api/v1/session",
                        {"username": "browser", "password": PREHASH_PASSWORD},
                    )
                )
                return statuses

        statuses = asyncio.run(sign_ups())
        assert statuses == [201] * 51 + [401, 201]
        process.kill9()  # no shutdown, no checkpoint: the WAL holds the recent commits
        assert (data_dir / "signin.db-wal").exists()

        raw = db_bytes(data_dir)
        log = log_path.read_bytes()
        assert b"durable49" in raw  # the check below reads the right bytes
        assert b"DEBUG signin: settings: " in log  # the log really was at debug level
        assert (data_dir / "secret.key").read_bytes().strip() not in log
        for secret in secret_forms(PASSWORD, names[:3]) + secret_forms(
            PREHASH_PASSWORD, ["browser", "durable00"]
        ):
            assert secret not in raw
            assert secret not in log

        process.start()
        with sqlite3.connect(data_dir / "signin.db") as conn:
            stored = {row[0] for row in conn.execute("SELECT username FROM users")}
            hashes = [row[0] for row in conn.execute("SELECT password_hash FROM users")]
        assert set(names) <= stored
        assert all(h.startswith("$argon2id$") for h in hashes)

        async def sign_ins() -> list[int]:
            async with httpx.AsyncClient(base_url=process.url, timeout=60) as client:
                return list(
                    await asyncio.gather(
                        *(
                            post_json(
                                client, "/api/v1/session", {"username": n, "password": PASSWORD}
                            )
                            for n in names
                        )
                    )
                )

        assert asyncio.run(sign_ins()) == [201] * 50
    finally:
        process.stop()


def test_server_log_has_no_tokens_or_queries(live: ServerProcess) -> None:
    token_value = "QueryTokenMarker-9d2e"
    httpx.get(f"{live.url}/sign-in?next=/x&sig={token_value}", timeout=10)
    # The access line is written once the response has gone out: wait for it, bounded.
    deadline = time.monotonic() + 10
    log = ""
    while '"GET /sign-in' not in log and time.monotonic() < deadline:
        time.sleep(0.05)
        log = Path(live.log_path or "").read_text(errors="replace")
    assert '"GET /sign-in' in log
    assert token_value not in log
    assert PASSWORD not in log


def test_real_server_refuses_large_bodies(live: ServerProcess) -> None:
    big = b"x" * (64 * 1024 + 1)

    def chunked() -> Iterator[bytes]:
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    with httpx.Client(base_url=live.url, timeout=10) as client:
        declared = client.post(
            "/api/v1/users", content=big, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        streamed = client.post(
            "/api/v1/users", content=chunked(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert streamed.headers["x-content-type-options"] == "nosniff"
