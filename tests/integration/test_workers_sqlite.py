"""`signin serve --workers 2` on SQLite: two processes share sessions and locks through the file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, on_fresh_connections

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("workers")
    process = ServerProcess(
        {
            "SIGNIN_DATA_DIR": str(tmp / "data"),
            "SIGNIN_COOKIE_SECURE": "false",
            "SIGNIN_IP_LOCK_MAX_FAILURES": "1000",
        },
        workers=2,
        log_path=tmp / "serve.log",
    ).start(timeout=60)
    try:
        yield process
    finally:
        process.stop()


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


def worker_pids(process: ServerProcess) -> set[int]:
    """The pids of the uvicorn worker processes under the supervisor (Linux /proc)."""
    assert process.proc is not None
    children = Path(f"/proc/{process.proc.pid}/task/{process.proc.pid}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


async def test_two_workers_are_running(workers: ServerProcess) -> None:
    # The supervisor's children: the two workers (and multiprocessing's helper, if any).
    assert len(worker_pids(workers)) >= 2


async def test_sessions_hold_on_every_worker_until_signed_out(workers: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=workers.url) as client:
        created = await client.post(
            "/api/v1/users", json={"username": "wanda", "password": PASSWORD}
        )
        assert created.status_code == 201
        client.cookies.clear()
        session = await client.post(
            "/api/v1/session", json={"username": "wanda", "password": PASSWORD}
        )
        assert session.status_code == 201
        bearer = {"Authorization": f"Bearer {session.json()['token']}"}
        url = workers.url + "/api/v1/session"
        assert statuses(await on_fresh_connections(16, "GET", url, headers=bearer)) == [200] * 16
        client.cookies.clear()
        assert (await client.delete("/api/v1/session", headers=bearer)).status_code == 204
        assert statuses(await on_fresh_connections(16, "GET", url, headers=bearer)) == [401] * 16


async def test_concurrent_wrong_attempts_allow_three_checks(workers: ServerProcess) -> None:
    """20 wrong passwords at once on new connections: exactly three reach the password check."""
    async with httpx.AsyncClient(base_url=workers.url) as client:
        created = await client.post(
            "/api/v1/users", json={"username": "walter", "password": PASSWORD}
        )
        assert created.status_code == 201

    async def attempt(i: int) -> int:
        async with httpx.AsyncClient(headers={"Connection": "close"}, timeout=30) as client:
            response = await client.post(
                workers.url + "/api/v1/session",
                json={"username": "Walter", "password": f"wrong password {i}"},
            )
            return response.status_code

    statuses = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert sorted(statuses) == [401] * 3 + [429] * 17
