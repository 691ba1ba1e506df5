"""SQLite writers of one process take turns on one asyncio lock, first come first served, instead
of racing in SQLite's sleeping busy handler; a turn that never comes is a 503, not a hang."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from signin.stores.base import StoreUnavailable
from signin.stores.sql import base
from signin.stores.sql.base import SqlStore
from signin.stores.sql.engine import create_engine, write_turn


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE log (n INTEGER)"))
    yield SqlStore(engine)
    await engine.dispose()


async def test_writers_commit_in_the_order_they_asked(store: SqlStore) -> None:
    async def write(n: int) -> None:
        async with store.write() as conn:
            await conn.execute(sa.text("INSERT INTO log (n) VALUES (:n)"), {"n": n})
            await asyncio.sleep(0.001)  # hand the loop to the others while holding the turn

    tasks = []
    for n in range(12):
        tasks.append(asyncio.ensure_future(write(n)))
        await asyncio.sleep(0)  # each asks before the next
    await asyncio.gather(*tasks)
    async with store.read() as conn:
        rows = (await conn.execute(sa.text("SELECT n FROM log ORDER BY rowid"))).scalars().all()
    assert list(rows) == list(range(12))
    assert not write_turn(store.engine).locked()


async def test_stores_on_one_engine_share_the_turn(store: SqlStore) -> None:
    other = SqlStore(store.engine)
    assert write_turn(other.engine) is write_turn(store.engine)
    async with store.write():
        assert write_turn(other.engine).locked()
    assert not write_turn(other.engine).locked()


async def test_a_turn_that_never_comes_is_store_unavailable(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "SQLITE_BUSY_MS", 50)
    turn = write_turn(store.engine)
    await turn.acquire()  # a writer that does not finish
    try:
        with pytest.raises(StoreUnavailable, match="database is locked"):
            async with store.write():
                pass
    finally:
        turn.release()
    async with store.write() as conn:  # and the next writer still gets its turn
        await conn.execute(sa.text("INSERT INTO log (n) VALUES (1)"))


async def write_then_fail(store: SqlStore) -> None:
    async with store.write() as conn:
        await conn.execute(sa.text("INSERT INTO log (n) VALUES (1)"))
        raise ValueError("mid-transaction")


async def test_a_failed_write_gives_the_turn_back(store: SqlStore) -> None:
    with pytest.raises(StoreUnavailable, match="no such table"):
        async with store.write() as conn:
            await conn.execute(sa.text("INSERT INTO missing (n) VALUES (1)"))
    assert not write_turn(store.engine).locked()
    with pytest.raises(ValueError, match="mid-transaction"):
        await write_then_fail(store)
    assert not write_turn(store.engine).locked()
    async with store.read() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM log"))).scalar() == 0
