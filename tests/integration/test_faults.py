"""Faults that must end in a clear answer and heal by themselves (SPEC section 16).

A full disk makes `/healthz` answer 503 (it probes a write, not only a read); a clean shutdown
leaves no WAL behind; a typo in a `SIGNIN_*` name is named at start; a PostgreSQL connection that
asyncpg calls broken is dropped from the pool, not handed to the next request.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from signin.stores.sql.engine import create_engine
from tests.backends import fresh_database, need_postgres
from tests.support import CHEAP_ARGON2_ENV, ServerProcess, server

PASSWORD = "correct horse battery"


def sign_up(base: str, username: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/users", json={"username": username, "password": PASSWORD}, timeout=10
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a disk that can really fill up (needs root to mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    with path.open("wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass


@pytest.mark.slow
def test_healthz_is_503_on_a_full_disk_and_recovers(small_disk: Path, tmp_path: Path) -> None:
    env = {"SIGNIN_DATA_DIR": str(small_disk / "data"), **CHEAP_ARGON2_ENV}
    with server(env, log_path=tmp_path / "server.log") as process:
        assert sign_up(process.url, "before").status_code == 201
        filler = small_disk / "filler"
        fill(filler)
        health = httpx.get(f"{process.url}/healthz", timeout=10)
        assert health.status_code == 503
        assert health.headers["content-type"].startswith("application/problem+json")
        assert health.json()["checks"]["database"].startswith("error")
        full = sign_up(process.url, "during")
        assert full.status_code == 503, full.text
        filler.unlink()
        assert httpx.get(f"{process.url}/healthz", timeout=10).status_code == 200
        assert sign_up(process.url, "after").status_code == 201


@pytest.mark.slow
def test_a_clean_shutdown_leaves_no_wal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with server({"SIGNIN_DATA_DIR": str(data)}) as process:
        for n in range(20):
            assert sign_up(process.url, f"user{n}").status_code == 201
    wal = data / "signin.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


@pytest.mark.slow
def test_an_unknown_setting_is_named_at_start(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    env = {"SIGNIN_DATA_DIR": str(tmp_path / "data"), "SIGNIN_LOCK_SECOND": "5"}
    process = ServerProcess(env, log_path=log).start()
    process.stop()
    lines = [line for line in log.read_text().splitlines() if "SIGNIN_LOCK_SECOND " in line]
    assert len(lines) == 1
    assert lines[0].startswith("warning: unknown setting")
    assert "did you mean SIGNIN_LOCK_SECONDS?" in lines[0]


@pytest.mark.postgres
async def test_a_connection_asyncpg_calls_busy_is_dropped_from_the_pool() -> None:
    """A statement on a connection mid-operation fails; that connection is not reused."""
    with fresh_database(need_postgres()) as url:
        engine = create_engine("postgresql+asyncpg://" + url.split("://", 1)[1], pool_size=1)
        try:
            async with engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                first_pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar()
                sleeper = asyncio.ensure_future(raw.execute("SELECT pg_sleep(0.5)"))
                await asyncio.sleep(0.05)
                with pytest.raises(sa.exc.DBAPIError) as caught:
                    await conn.execute(sa.text("SELECT 1"))
                assert "another operation is in progress" in str(caught.value)
                assert caught.value.connection_invalidated
                await asyncio.gather(sleeper, return_exceptions=True)
            async with engine.connect() as conn:
                pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar()
                assert (await conn.execute(sa.text("SELECT 1"))).scalar() == 1
            assert pid != first_pid
        finally:
            await engine.dispose()
