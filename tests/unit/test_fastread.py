"""The SQLite fast paths (stores/sql/fastread.py, fastwrite.py) against real files."""

from __future__ import annotations

import asyncio
import dataclasses
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
from tests.support import sqlite_session_store


def _record(session_id: str) -> SessionRecord:
    return SessionRecord(session_id, 1, 10.0, 10.0, 9e9, 600, False, "127.0.0.1", "ua")


async def test_lookup_takes_the_fast_path_and_sees_deletes_at_once(tmp_path: Path) -> None:
    store = await sqlite_session_store(tmp_path / "s.db")
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
    store = await sqlite_session_store(tmp_path / "s.db")
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
    store = await sqlite_session_store(tmp_path / "u.db")
    user_store = SqlUserStore(store.engine)
    assert user_store._fast is not None
    fast = await user_store.by_canon("alice")
    slow = await user_store._one(users.c.username_canon == "alice")
    assert fast is not None
    assert fast == slow
    assert await user_store.by_canon("nobody") is None
    assert await user_store.by_id(1) == slow
    assert await user_store.by_id(2) is None
    await store.engine.dispose()


async def _lock_stores(tmp_path: Path) -> tuple[SqlLockStore, SqlLockStore]:
    """The same lock store twice on two fresh files: through the writer thread, and through the
    async engine as on PostgreSQL (its fast path switched off)."""
    stores = []
    for name in ("fast.db", "async.db"):
        url = f"sqlite+aiosqlite:///{tmp_path / name}"
        await asyncio.to_thread(migrate.upgrade, url)
        stores.append(SqlLockStore(create_engine(url)))
    stores[1]._fast = None
    return stores[0], stores[1]


async def test_reserve_all_and_settle_agree_on_both_paths(tmp_path: Path) -> None:
    fast, slow = await _lock_stores(tmp_path)
    assert fast._fast is not None
    results = []
    for store in (fast, slow):
        keys = [("IP:a", 2), ("alice", 3)]
        counts = [await store.reserve_all(keys, 100.0 + i, 60) for i in range(4)]
        await store.settle(release=["IP:a", "bob"], clear=["alice"])
        counts.append(await store.reserve_all([("IP:a", 9), ("alice", 0)], 130.0, 60))
        counts.append(await store.reserve_all([("IP:a", 9), ("alice", 0)], 200.0, 60))
        results.append((counts, await store.list(200.0, 600)))
        await store.engine.dispose()
    assert results[0] == results[1]
    assert results[0][0] == [[1, 1], [2, 2], [3], [4], [4, 1], [1, 1]]


async def test_reserve_all_commits_once_and_stops_inside_the_writer(tmp_path: Path) -> None:
    """Stopped early, the transaction still commits what it counted: the key past its limit
    counts, the rest are untouched, and a second connection sees it at once."""
    fast, slow = await _lock_stores(tmp_path)
    await slow.engine.dispose()
    assert fast._fast is not None
    assert await fast.reserve_all([("IP:a", 0), ("alice", 3)], 100.0, 60) == [1]
    path = tmp_path / "fast.db"
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT key, failures FROM fail_locks").fetchall() == [("IP:a", 1)]
    other.close()
    await fast.engine.dispose()


async def test_session_writes_are_durable_and_seen_at_once(tmp_path: Path) -> None:
    """A session created through the writer thread is found by the very next lookup, survives
    closing every connection, and was committed with synchronous=FULL (lock counts: NORMAL)."""
    store = await sqlite_session_store(tmp_path / "s.db")
    writer = store._fast_writer
    assert writer is not None
    digest = hashlib.sha256(b"token").digest()
    await store.create(digest, _record("s1"))
    found = await store.lookup(digest)
    assert found is not None
    assert found.session == _record("s1")
    assert writer._conn is not None
    assert writer._conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    locks = SqlLockStore(store.engine)
    assert locks._fast is writer  # one writer thread per database
    assert await locks.reserve("alice", 1.0, 60) == 1
    assert writer._conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    await store.touch(digest, 20.0)
    assert writer._conn.execute("PRAGMA synchronous").fetchone() == (2,)

    writer._conn.close()
    await store.engine.dispose()
    reopened = SqlSessionStore(create_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}"))
    assert reopened._fast_writer is not None
    assert reopened._fast_writer is not writer
    found = await reopened.lookup(digest)
    assert found is not None
    assert found.session == dataclasses.replace(_record("s1"), last_seen=20.0)
    await reopened.delete(digest)
    assert await reopened.lookup(digest) is None
    await reopened.engine.dispose()


async def test_session_write_errors_match_the_async_path(tmp_path: Path) -> None:
    """A taken token or an unknown user is SQLAlchemy's IntegrityError on both paths (no
    parameters in its text: they hold the token hash); a missing database is unavailable."""
    store = await sqlite_session_store(tmp_path / "s.db")
    slow = SqlSessionStore(store.engine)
    slow._fast_writer = None
    digest = hashlib.sha256(b"token").digest()
    await store.create(digest, _record("s1"))
    orphan = dataclasses.replace(_record("s2"), user_id=99)
    for path in (store, slow):
        with pytest.raises(sa.exc.IntegrityError, match="UNIQUE") as taken:
            await path.create(digest, _record("session-id-3"))
        assert path is slow or "session-id-3" not in str(taken.value)
        with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
            await path.create(hashlib.sha256(b"other").digest(), orphan)
    assert [s.id for s in await store.list_all()] == ["s1"]
    await store.engine.dispose()
    absent = SqlSessionStore(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'absent.db'}"))
    with pytest.raises(StoreUnavailable):
        await absent.create(digest, _record("s1"))
    await absent.engine.dispose()
