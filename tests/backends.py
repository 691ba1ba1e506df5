"""PostgreSQL and Redis for the tests: where they are, fresh databases, a Redis server of our own.

`SIGNIN_TEST_POSTGRES_URL` / `SIGNIN_TEST_REDIS_URL` name the servers; without them the local
defaults are used when they answer. A missing server skips the test with a reason, or fails it
under `SIGNIN_REQUIRE_ALL=1` (see `need`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tests.support import free_port, need

POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_DEFAULT = "redis://127.0.0.1:6379/15"
T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from synchronous code, even inside a running loop's thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1):
            return True
    except OSError:
        return False


async def _pg_answers(url: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def _redis_answers(url: str) -> bool:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@cache
def postgres_url() -> str | None:
    """The test PostgreSQL server's URL (`postgresql://`), or None when none answers."""
    url = os.environ.get("SIGNIN_TEST_POSTGRES_URL") or POSTGRES_DEFAULT
    if not _port_open(url) or not run_sync(_pg_answers(url)):
        return None
    return url


def worker_redis_db(url: str, worker: str | None) -> str:
    """The Redis URL for one pytest-xdist worker: worker `gwN` uses the database N above the base.

    Tests may flush their database, so parallel workers must not share one. Worker gw0 keeps the
    base database of `SIGNIN_TEST_REDIS_URL`; gwN uses base + N, or base - N where base + N would
    pass 15 (so the default 15 gives 15, 14, ...). With `-n 2` that is two databases, base and
    its neighbour; without xdist only the base one.
    """
    if not worker or not worker.startswith("gw"):
        return url
    index = int(worker[2:])
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or "0")
    db = base + index if base + index <= 15 else base - index
    if not 0 <= db <= 15:
        raise RuntimeError(f"no Redis database left for xdist worker {worker} above/below {base}")
    return urlunsplit(parts._replace(path=f"/{db}"))


@cache
def redis_url() -> str | None:
    url = os.environ.get("SIGNIN_TEST_REDIS_URL") or REDIS_DEFAULT
    url = worker_redis_db(url, os.environ.get("PYTEST_XDIST_WORKER"))
    if not _port_open(url) or not run_sync(_redis_answers(url)):
        return None
    return url


def need_postgres() -> str:
    url = postgres_url()
    need(url is not None, "PostgreSQL (SIGNIN_TEST_POSTGRES_URL or postgres@127.0.0.1:5432/test)")
    assert url is not None
    return url


def need_redis() -> str:
    url = redis_url()
    need(url is not None, "Redis (SIGNIN_TEST_REDIS_URL or redis://127.0.0.1:6379/15)")
    assert url is not None
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, dropped afterwards; yields its URL."""
    name = f"signin_t_{secrets.token_hex(6)}"
    run_sync(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server_url, name)
    finally:
        # FORCE (PostgreSQL 13+): server processes of a failed test may still be connected.
        run_sync(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def flush_redis(url: str) -> None:
    async def flush() -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            await client.flushdb()
        finally:
            await client.aclose()

    run_sync(flush())


class RedisServer:
    """A `redis-server` of the test's own on a spare loopback port, to stop and start at will."""

    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        assert self.binary is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            if _port_open(self.url) and run_sync(_redis_answers(self.url)):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer in time")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None
