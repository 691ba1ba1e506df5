"""The LockStore contract (SPEC section 5), run against SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.accounts.lockout import NO_LIMIT
from signin.stores.base import LockRecord, LockStore
from signin.stores.sql.locks import SqlLockStore
from signin.stores.sql.schema import fail_locks
from tests.contract.conftest import POSTGRESQL, Backend

T0 = 1_800_000_000.5
WINDOW = 600
IP = "IP:192.0.2.1"


async def live(store: LockStore, now: float) -> set[LockRecord]:
    """Every live key, in no order (keys written in one transaction share their time)."""
    return set(await store.list(now, WINDOW))


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


class TestReserveAllAndSettle:
    """One write reserves a sign-in attempt on all its keys, one settles it (SPEC section 5)."""

    async def test_reserve_all_counts_each_key_in_order(self, locks_backend: Backend) -> None:
        store = locks_backend.store
        assert await store.reserve_all([(IP, 20), ("alice", 3)], T0, WINDOW) == [1, 1]
        assert await store.reserve_all([(IP, 20), ("bob", 3)], T0 + 1, WINDOW) == [2, 1]
        assert await store.reserve_all([(IP, 20), ("alice", 3)], T0 + 2, WINDOW) == [3, 2]
        expected = {
            LockRecord(IP, 3, T0 + 2),
            LockRecord("alice", 2, T0 + 2),
            LockRecord("bob", 1, T0 + 1),
        }
        assert await live(store, T0 + 3) == expected
        assert await store.reserve_all([], T0 + 3, WINDOW) == []
        assert await live(store, T0 + 3) == expected

    async def test_a_key_past_its_limit_stops_the_rest(self, locks_backend: Backend) -> None:
        """An attempt refused for its IP is not counted on the username, nor on any later key."""
        store = locks_backend.store
        keys = [(IP, 2), ("alice", 5), ("carol", 5)]
        assert await store.reserve_all(keys, T0, WINDOW) == [1, 1, 1]
        assert await store.reserve_all(keys, T0 + 1, WINDOW) == [2, 2, 2]
        assert await store.reserve_all(keys, T0 + 2, WINDOW) == [3]  # the IP is past 2
        assert await store.reserve_all(keys, T0 + 3, WINDOW) == [4]  # and still counts
        assert await store.get(IP, T0 + 4, WINDOW) == LockRecord(IP, 4, T0 + 3)
        assert await store.get("alice", T0 + 4, WINDOW) == LockRecord("alice", 2, T0 + 1)
        # Stopped in the middle: the key past its limit counts, the one after it does not.
        assert await store.reserve_all(
            [("dave", 5), ("alice", 1), ("erin", 5)], T0 + 5, WINDOW
        ) == [
            1,
            3,
        ]
        assert await store.get("alice", T0 + 6, WINDOW) == LockRecord("alice", 3, T0 + 5)
        assert await store.get("erin", T0 + 6, WINDOW) is None

    async def test_stale_keys_restart_at_one(self, locks_backend: Backend) -> None:
        """Each key has its own window: the IP seen a second ago goes on, the username that
        has been quiet for exactly `window` seconds starts again from 1."""
        store = locks_backend.store
        await store.reserve_all([(IP, 20), ("alice", 3)], T0, WINDOW)
        await store.reserve_all([(IP, 20), ("alice", 3)], T0 + 1, WINDOW)
        await store.reserve(IP, T0 + WINDOW, WINDOW)
        assert await store.reserve_all([(IP, 20), ("alice", 3)], T0 + WINDOW + 1, WINDOW) == [4, 1]
        assert await store.reserve_all([(IP, 20), ("alice", 3)], T0 + 3 * WINDOW, WINDOW) == [1, 1]

    async def test_settle_releases_and_clears_never_below_zero(
        self, locks_backend: Backend
    ) -> None:
        store = locks_backend.store
        for i in range(2):
            await store.reserve_all([(IP, 20), ("alice", 3), ("bob", 3)], T0 + i, WINDOW)
        await store.settle(release=[IP, "bob"], clear=["alice"])
        assert await live(store, T0 + 2) == {
            LockRecord(IP, 1, T0 + 1),  # the time of the last attempt stays
            LockRecord("bob", 1, T0 + 1),
        }
        for _ in range(3):
            await store.settle(release=[IP, "never-seen"], clear=["alice", "nobody"])
        await store.settle()
        assert await live(store, T0 + 2) == {
            LockRecord(IP, 0, T0 + 1),
            LockRecord("bob", 1, T0 + 1),
        }
        assert await store.get("never-seen", T0 + 2, WINDOW) is None
        assert await store.reserve_all([(IP, 20), ("alice", 3)], T0 + 3, WINDOW) == [1, 1]

    async def test_concurrent_reservations_get_distinct_counts_on_every_key(
        self, locks_backend: Backend
    ) -> None:
        """Ten attempts at once from one address on one name: the IP and the name each see the
        counts 1..10, the same attempt the same place on both (one atomic write per attempt)."""
        store = locks_backend.store
        counts = await asyncio.gather(
            *(store.reserve_all([(IP, 20), ("alice", 20)], T0, WINDOW) for _ in range(10))
        )
        assert sorted(counts) == [[n, n] for n in range(1, 11)]

    async def test_concurrent_reservations_past_the_ip_limit_spare_the_name(
        self, locks_backend: Backend
    ) -> None:
        store = locks_backend.store
        counts = await asyncio.gather(
            *(store.reserve_all([(IP, 3), ("alice", 20)], T0, WINDOW) for _ in range(10))
        )
        assert sorted(count[0] for count in counts) == list(range(1, 11))
        assert sorted(len(count) for count in counts) == [1] * 7 + [2] * 3
        assert await store.get("alice", T0, WINDOW) == LockRecord("alice", 3, T0)

    async def test_concurrent_sign_ins_settle_back_to_zero(self, locks_backend: Backend) -> None:
        """Twenty successful sign-ins at once from one address to one account: every
        reservation is settled (on PostgreSQL: none aborted as a deadlock), the IP is back at
        0 and the username's key is gone."""
        store = locks_backend.store

        async def sign_in(n: int) -> None:
            await store.reserve_all([(IP, 100), ("alice", 100)], T0 + n / 100, WINDOW)
            await store.settle(release=[IP], clear=["alice"])

        await asyncio.gather(*(sign_in(n) for n in range(20)))
        record = await store.get(IP, T0 + 1, WINDOW)
        assert record is not None
        assert record.failures == 0
        assert await store.get("alice", T0 + 1, WINDOW) is None

    async def test_trusted_and_untrusted_sign_ins_at_once_settle_without_deadlock(
        self, locks_backend: Backend
    ) -> None:
        """SPEC 5a: trusted attempts reserve the IP without a limit, then their device key;
        untrusted ones the IP, then the username. Forty at once, all settled (on PostgreSQL:
        none aborted as a deadlock, since every write takes the IP row first)."""
        store = locks_backend.store
        device = "DEVICE:alice:n0nce"

        async def sign_in(n: int) -> None:
            second = device if n % 2 else "alice"
            counts = await store.reserve_all([(IP, NO_LIMIT), (second, 100)], T0 + n / 100, WINDOW)
            assert len(counts) == 2
            await store.settle(release=[IP], clear=[second])

        await asyncio.gather(*(sign_in(n) for n in range(40)))
        record = await store.get(IP, T0 + 1, WINDOW)
        assert record is not None
        assert record.failures == 0
        assert await store.get(device, T0 + 1, WINDOW) is None
        assert await store.get("alice", T0 + 1, WINDOW) is None


@pytest.mark.parametrize("sql_engine", [POSTGRESQL], indirect=True)
async def test_purge_skips_rows_a_reservation_holds(sql_engine: AsyncEngine) -> None:
    """PostgreSQL locks rows, not the store: a reservation of two stale keys holds the first
    while it waits for the second, so a purge that waited for held rows could hold the second
    and wait for the first (a deadlock). It skips them: they are being written, so not stale."""
    store = SqlLockStore(sql_engine)
    for key in (IP, "alice", "old"):
        await store.reserve(key, T0, WINDOW)
    later = T0 + WINDOW
    async with sql_engine.begin() as conn:
        # A reservation in flight: the IP's row is written and held, not yet committed.
        held = fail_locks.update().where(fail_locks.c.key == IP).values(last_attempt=later)
        await conn.execute(held)
        assert await asyncio.wait_for(store.purge(later, WINDOW), 5) == 2
    assert await store.list(later, 10 * WINDOW) == [LockRecord(IP, 1, later)]


@pytest.mark.parametrize("kind", ["sqlite", POSTGRESQL])
async def test_one_failure_rows_are_bounded_and_locks_kept(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A flood of random names leaves at most the bound of one-failure rows; locks stay."""
    from tests.contract.conftest import _sql_engine

    engine = await _sql_engine(kind, request, tmp_path)
    try:
        store = SqlLockStore(engine, max_single_failure_rows=10)
        for _ in range(3):
            await store.reserve("victim", T0, WINDOW)
        for n in range(40):
            await store.reserve(f"random-{n}", T0 + 1 + n, WINDOW)
        await store.purge(T0 + 50, WINDOW)
        rows = {record.key: record for record in await store.list(T0 + 50, WINDOW)}
        assert len(rows) == 11
        assert rows["victim"].failures == 3
        assert set(rows) - {"victim"} == {f"random-{n}" for n in range(30, 40)}  # the newest
    finally:
        await engine.dispose()
