"""The LockStore contract (SPEC section 5), run against SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time

from signin.stores.base import LockRecord
from tests.contract.conftest import Backend

T0 = 1_800_000_000.5
WINDOW = 600


class TestLockStoreContract:
    async def test_reserve_counts_each_attempt(self, locks_backend: Backend) -> None:
        store = locks_backend.store
        assert [await store.reserve("alice", T0 + i, WINDOW) for i in range(4)] == [1, 2, 3, 4]
        assert await store.reserve("bob", T0 + 5, WINDOW) == 1
        assert await store.get("alice", T0 + 5, WINDOW) == LockRecord("alice", 4, T0 + 3)

    async def test_count_restarts_after_a_quiet_window(self, locks_backend: Backend) -> None:
        """A key whose last attempt is `window` seconds old or more starts again from 1."""
        store = locks_backend.store
        await store.reserve("alice", T0, WINDOW)
        assert await store.reserve("alice", T0 + WINDOW - 1, WINDOW) == 2
        assert await store.reserve("alice", T0 + 2 * WINDOW - 1, WINDOW) == 1

    async def test_get_sees_only_live_keys(self, locks_backend: Backend) -> None:
        store = locks_backend.store
        await store.reserve("alice", T0, WINDOW)
        assert await store.get("alice", T0 + WINDOW - 0.5, WINDOW) == LockRecord("alice", 1, T0)
        assert await store.get("alice", T0 + WINDOW, WINDOW) is None
        assert await store.get("nobody", T0, WINDOW) is None

    async def test_release_takes_back_one_and_never_below_zero(
        self, locks_backend: Backend
    ) -> None:
        store = locks_backend.store
        await store.reserve("ip:192.0.2.1", T0, WINDOW)
        await store.reserve("ip:192.0.2.1", T0 + 1, WINDOW)
        await store.release("ip:192.0.2.1")
        assert await store.get("ip:192.0.2.1", T0 + 2, WINDOW) == LockRecord(
            "ip:192.0.2.1", 1, T0 + 1
        )
        await store.release("ip:192.0.2.1")
        await store.release("ip:192.0.2.1")
        await store.release("never-seen")
        assert await store.get("ip:192.0.2.1", T0 + 2, WINDOW) == LockRecord(
            "ip:192.0.2.1", 0, T0 + 1
        )
        assert await store.get("never-seen", T0 + 2, WINDOW) is None

    async def test_clear(self, locks_backend: Backend) -> None:
        store = locks_backend.store
        await store.reserve("alice", T0, WINDOW)
        assert await store.clear("alice") is True
        assert await store.clear("alice") is False
        assert await store.get("alice", T0, WINDOW) is None
        assert await store.reserve("alice", T0 + 1, WINDOW) == 1

    async def test_list_newest_first_without_stale_keys(self, locks_backend: Backend) -> None:
        """Keys with colons, Unicode and glob characters are listed as they were given."""
        store = locks_backend.store
        await store.reserve("old", T0 - WINDOW, WINDOW)
        await store.reserve("straße", T0, WINDOW)
        await store.reserve("ip:2001:db8::1", T0 + 2, WINDOW)
        await store.reserve("we*ird[key]?", T0 + 1, WINDOW)
        await store.reserve("straße", T0 + 3, WINDOW)
        listed = await store.list(T0 + 4, WINDOW)
        assert listed == [
            LockRecord("straße", 2, T0 + 3),
            LockRecord("ip:2001:db8::1", 1, T0 + 2),
            LockRecord("we*ird[key]?", 1, T0 + 1),
        ]

    async def test_concurrent_reservations_get_distinct_counts(
        self, locks_backend: Backend
    ) -> None:
        """The race SPEC section 5 forbids: 40 attempts at once see 40 different counts."""
        store = locks_backend.store
        counts = await asyncio.gather(*(store.reserve("alice", T0, WINDOW) for _ in range(40)))
        assert sorted(counts) == list(range(1, 41))

    async def test_expired_keys_are_gone_after_purge(self, locks_backend: Backend) -> None:
        """In real time: a key quiet for its window is deleted by purge (SQL) or its TTL
        (Redis); looked at with a longer window, it is not there any more."""
        store = locks_backend.store
        await store.reserve("quiet", time.time(), 1)
        await asyncio.sleep(1.1)
        await store.reserve("fresh", time.time(), 1)
        assert await store.purge(time.time(), 1) >= 0
        assert await store.get("quiet", time.time(), 3600) is None
        assert await store.get("fresh", time.time(), 3600) is not None
