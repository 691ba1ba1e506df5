"""last_seen is written once per interval, however many requests see it stale at once."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from signin.accounts.clock import FrozenClock
from signin.accounts.sessions import SessionManager, token_hash
from signin.stores.sql.sessions import SqlSessionStore
from tests.support import sqlite_session_store


class CountingStore(SqlSessionStore):
    """The real SQLite store, counting its last_seen writes."""

    touches = 0

    async def touch(self, token_hash: bytes, now: float) -> None:
        self.touches += 1
        await asyncio.sleep(0.01)  # a write that waits for the lock, as under load
        await super().touch(token_hash, now)


async def test_concurrent_checks_write_last_seen_once(tmp_path: Path) -> None:
    store = await sqlite_session_store(tmp_path / "t.db", CountingStore)
    clock = FrozenClock()
    manager = SessionManager(
        store, idle_seconds=7200, max_seconds=43200, remember_seconds=86400, clock=clock
    )
    issued = await manager.issue(1, remember=False, ip=None, user_agent=None)

    clock.advance(61)
    found = await asyncio.gather(*(manager.resolve(issued.token) for _ in range(16)))
    assert all(session is not None for session in found)
    assert store.touches == 1
    record = await store.lookup(token_hash(issued.token))
    assert record is not None
    assert record.session.last_seen == clock.now

    clock.advance(30)  # within the interval: no write
    assert await manager.resolve(issued.token) is not None
    assert store.touches == 1
    clock.advance(31)  # the next interval: one more
    await asyncio.gather(*(manager.resolve(issued.token) for _ in range(8)))
    assert store.touches == 2
    await store.engine.dispose()


async def test_session_ids_are_hex_and_never_look_like_an_option(tmp_path: Path) -> None:
    """`signin sessions end ID`: an id that began with "-" was read as an option."""
    store = await sqlite_session_store(tmp_path / "t.db")
    manager = SessionManager(
        store, idle_seconds=7200, max_seconds=43200, remember_seconds=86400, clock=FrozenClock()
    )
    for _ in range(32):
        issued = await manager.issue(1, remember=False, ip=None, user_agent=None)
        record = await store.lookup(token_hash(issued.token))
        assert record is not None
        assert re.fullmatch(r"[0-9a-f]{24}", record.session.id)
    await store.engine.dispose()
