"""The SQLite fast paths (stores/sql/fastread.py, fastwrite.py) against real files."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from signin.stores import migrate
from signin.stores.base import SessionRecord, StoreUnavailable
from signin.stores.sql.engine import create_engine
from signin.stores.sql.fastread import MISS, FastReader
from signin.stores.sql.locks import SqlLockStore
from signin.stores.sql.schema import users
from signin.stores.sql.sessions import SqlSessionStore
from signin.stores.sql.users import SqlUserStore


async def _store(path: Path) -> SqlSessionStore:
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            users.insert().values(
                id=1,
                username="alice",
                username_canon="alice",
                password_hash="x",
                created_at=1.0,
                password_changed_at=1.0,
            )
        )
    return SqlSessionStore(engine)


def _record(session_id: str) -> SessionRecord:
    return SessionRecord(session_id, 1, 10.0, 10.0, 9e9, 600, False, "127.0.0.1", "ua")


async def test_lookup_takes_the_fast_path_and_sees_deletes_at_once(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.db")
    digest = hashlib.sha256(b"token").digest()
    await store.create(digest, _record("s1"))
    assert store._fast is not None
    row = store._fast.fetch(token_hash=digest)
    assert row is not MISS
    assert (row.id, row.username) == ("s1", "alice")
    found = await store.lookup(digest)
    assert found is not None
    assert found.session == _record("s1")
    assert not found.disabled
    await store.delete(digest)
    assert store._fast.fetch(token_hash=digest) is None
    assert await store.lookup(digest) is None
    await store.engine.dispose()


async def test_fast_path_is_read_only(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.db")
    assert store._fast is not None
    store._fast.fetch(token_hash=b"")
    assert store._fast._conn is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store._fast._conn.execute("DELETE FROM users")
    await store.engine.dispose()


async def test_missing_file_or_memory_database_falls_back(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'absent.db'}")
    reader = FastReader(engine, sa.select(users.c.id).where(users.c.id == sa.bindparam("i")))
    assert reader.fetch(i=1) is MISS
    await engine.dispose()
    for url in ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///file:x?mode=memory&uri=true"):
        memory = create_async_engine(url, poolclass=sa.pool.StaticPool)
        assert not FastReader.usable(memory)
        await memory.dispose()


async def test_lock_writes_take_the_writer_thread_and_agree_with_reads(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'l.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    store = SqlLockStore(create_engine(url))
    assert store._fast is not None
    counts = await asyncio.gather(*(store.reserve("bob", 100.0, 60) for _ in range(10)))
    assert sorted(counts) == list(range(1, 11))
    await store.release("bob")
    record = await store.get("bob", 101.0, 60)
    assert record is not None
    assert record.failures == 9
    assert await store.reserve("bob", 200.0, 60) == 1  # the window passed: counting starts over
    assert await store.clear("bob")
    assert not await store.clear("bob")
    await store.engine.dispose()


async def test_lock_writer_without_database_is_unavailable(tmp_path: Path) -> None:
    store = SqlLockStore(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'absent.db'}"))
    with pytest.raises(StoreUnavailable):
        await store.reserve("bob", 1.0, 60)
    await store.engine.dispose()


async def test_user_by_canon_fast_path_matches_the_async_path(tmp_path: Path) -> None:
    store = await _store(tmp_path / "u.db")
    user_store = SqlUserStore(store.engine)
    assert user_store._fast is not None
    fast = await user_store.by_canon("alice")
    slow = await user_store._one(users.c.username_canon == "alice")
    assert fast is not None
    assert fast == slow
    assert await user_store.by_canon("nobody") is None
    await store.engine.dispose()
