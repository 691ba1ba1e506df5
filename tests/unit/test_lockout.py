"""The fail-lock policy (SPEC section 5) on a real SQLite file, with a frozen clock and a hasher
that counts every password verification (real and dummy)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from signin.accounts.clock import FrozenClock
from signin.accounts.errors import AccountLocked, Busy, InvalidCredentials
from signin.accounts.lockout import ip_key, parse_key
from signin.crypto.passwords import HasherBusy, PasswordHasher
from signin.services import Services, build_services
from signin.stores.base import LockStore
from tests.support import CHEAP_ARGON2, make_settings, migrated

PASSWORD = "Lattice-Quarry-Ember-58"
WRONG = "not-the-password-at-all"
IP = "192.0.2.10"
LOCK = 600


class CountingHasher(PasswordHasher):
    """argon2id as usual, counting checks; `busy` makes the next check fail as a full queue."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_kib=1024, parallelism=1, workers=2)
        self.verifies = 0
        self.dummies = 0
        self.busy = 0

    @property
    def checks(self) -> int:
        return self.verifies + self.dummies

    async def verify(self, stored: str, prehash: str) -> tuple[bool, str | None]:
        self._maybe_busy()
        self.verifies += 1
        await asyncio.sleep(0.005)  # let concurrent attempts overlap for real
        return await super().verify(stored, prehash)

    async def dummy_verify(self) -> None:
        self._maybe_busy()
        self.dummies += 1
        await asyncio.sleep(0.005)
        await super().dummy_verify()

    def _maybe_busy(self) -> None:
        if self.busy:
            self.busy -= 1
            raise HasherBusy(retry_after=1)


class World:
    def __init__(self, services: Services, clock: FrozenClock, hasher: CountingHasher) -> None:
        self.services, self.clock, self.hasher = services, clock, hasher

    async def sign_in(self, name: str, password: str, ip: str | None = IP) -> str:
        """'ok', 'invalid' or 'locked:<retry_after>' (with the message checked to name the wait)."""
        try:
            await self.services.authenticator.sign_in(name, password, ip)
        except InvalidCredentials:
            return "invalid"
        except AccountLocked as exc:
            locked = exc
        else:
            return "ok"
        assert locked.message == locked_message(locked.retry_after)
        return f"locked:{locked.retry_after}"

    async def failures(self, key: str) -> int | None:
        record = await self.services.lock_store.get(key, self.clock(), 10**9)
        return None if record is None else record.failures


def locked_message(seconds: int) -> str:
    return AccountLocked(seconds).message


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    settings = make_settings(tmp_path / "data", lock_seconds=LOCK, **overrides)
    clock = FrozenClock()
    hasher = CountingHasher()
    services = build_services(settings, clock=clock, hasher=hasher)  # makes the data dir
    await migrated(settings.sqlalchemy_url)
    await services.registration.sign_up("Alice", PASSWORD)
    await services.registration.sign_up("Bob", PASSWORD)
    hasher.verifies = hasher.dummies = 0
    try:
        yield World(services, clock, hasher)
    finally:
        await services.close()


async def test_third_failure_locks_and_a_locked_attempt_costs_no_hash(world: World) -> None:
    assert [await world.sign_in("alice", WRONG) for _ in range(3)] == ["invalid"] * 3
    assert world.hasher.checks == 3
    # Locked: refused before any password work, right password or wrong.
    assert await world.sign_in("alice", PASSWORD) == f"locked:{LOCK}"
    assert await world.sign_in("alice", WRONG) == f"locked:{LOCK}"
    assert world.hasher.checks == 3
    assert await world.failures("alice") == 5  # locked attempts count too
    assert "10 minutes" in locked_message(LOCK)


async def test_twenty_concurrent_wrong_attempts_check_at_most_three_passwords(world: World) -> None:
    results = await asyncio.gather(
        *(world.sign_in("ALICE", WRONG, ip=f"198.51.100.{n}") for n in range(20))
    )
    assert world.hasher.verifies == 3
    assert world.hasher.dummies == 0
    assert sorted(results) == ["invalid"] * 3 + [f"locked:{LOCK}"] * 17
    assert await world.failures("alice") == 20


async def test_concurrent_attempts_on_an_unknown_name_from_one_ip(world: World) -> None:
    results = await asyncio.gather(*(world.sign_in("nobody", WRONG) for _ in range(20)))
    assert world.hasher.checks == 3
    assert results.count("invalid") == 3


async def test_the_lock_runs_from_the_last_attempt(world: World) -> None:
    for _ in range(3):
        await world.sign_in("alice", WRONG)
    world.clock.advance(LOCK - 1)
    assert await world.sign_in("alice", PASSWORD) == f"locked:{LOCK}"  # extends the lock
    world.clock.advance(LOCK - 1)
    assert await world.sign_in("alice", PASSWORD) == f"locked:{LOCK}"
    world.clock.advance(LOCK)  # silence for the full window: forgotten
    assert await world.sign_in("alice", PASSWORD) == "ok"
    assert world.hasher.verifies == 4


async def test_silence_forgets_failures_below_the_limit(world: World) -> None:
    for _ in range(2):
        await world.sign_in("alice", WRONG)
    world.clock.advance(LOCK)
    assert [await world.sign_in("alice", WRONG) for _ in range(3)] == ["invalid"] * 3
    assert await world.sign_in("alice", WRONG) == f"locked:{LOCK}"


async def test_success_before_the_lock_clears_the_username(world: World) -> None:
    for _ in range(2):
        await world.sign_in("alice", WRONG)
    assert await world.sign_in("alice", PASSWORD) == "ok"
    assert await world.failures("alice") is None
    assert [await world.sign_in("alice", WRONG) for _ in range(3)] == ["invalid"] * 3
    assert await world.sign_in("alice", PASSWORD) == f"locked:{LOCK}"


async def test_unknown_names_lock_the_same_way_with_the_same_message(world: World) -> None:
    known = [await world.sign_in("alice", WRONG) for _ in range(4)]
    unknown = [await world.sign_in("nobody-here", WRONG) for _ in range(4)]
    assert known == unknown == ["invalid"] * 3 + [f"locked:{LOCK}"]
    assert world.hasher.verifies == 3
    assert world.hasher.dummies == 3


async def test_canonical_forms_share_one_key(world: World) -> None:
    for name in ("Alice", "ALICE", "ａｌｉｃｅ"):
        assert await world.sign_in(name, WRONG) == "invalid"
    assert await world.sign_in("alice", PASSWORD) == f"locked:{LOCK}"


@pytest.mark.parametrize("world", [{"ip_lock_max_failures": 5}], indirect=True)
async def test_ip_lock_across_usernames_and_success_does_not_reset_it(world: World) -> None:
    for name in ("carol", "dave", "erin", "frank"):
        assert await world.sign_in(name, WRONG) == "invalid"
    # A success takes back only its own count: 4 stays 4, it does not start again from 0.
    assert await world.sign_in("bob", PASSWORD) == "ok"
    assert await world.failures(ip_key(IP)) == 4
    assert await world.sign_in("grace", WRONG) == "invalid"  # the 5th failure
    assert await world.sign_in("bob", PASSWORD) == f"locked:{LOCK}"  # IP locked, right password
    assert await world.failures("bob") is None  # refused by its IP: the username is not charged
    assert await world.sign_in("bob", PASSWORD, ip="192.0.2.99") == "ok"
    assert world.hasher.checks == 7


@pytest.mark.parametrize("world", [{"ip_lock_max_failures": 5}], indirect=True)
async def test_successes_alone_never_lock_an_ip(world: World) -> None:
    for _ in range(12):
        assert await world.sign_in("bob", PASSWORD) == "ok"
    assert await world.failures(ip_key(IP)) == 0


async def test_a_busy_hasher_does_not_count_the_attempt(world: World) -> None:
    await world.sign_in("alice", WRONG)
    world.hasher.busy = 1
    with pytest.raises(Busy):
        await world.services.authenticator.sign_in("alice", WRONG, IP)
    assert await world.failures("alice") == 1
    assert await world.failures(ip_key(IP)) == 1


class CountingStore:
    """The world's lock store, recording each call that writes (purges aside)."""

    def __init__(self, store: LockStore) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name in ("reserve", "reserve_all", "settle", "clear", "release"):
            self.calls.append(name)
        return getattr(self.store, name)


@pytest.mark.parametrize("world", [{"ip_lock_max_failures": 4}], indirect=True)
async def test_each_attempt_is_one_write_to_reserve_and_one_to_settle(world: World) -> None:
    counting = CountingStore(world.services.lockout.store)
    world.services.lockout.store = counting  # type: ignore[assignment]
    outcomes = [await world.sign_in("bob", PASSWORD)]
    world.hasher.busy = 1
    with pytest.raises(Busy):
        await world.services.authenticator.sign_in("bob", PASSWORD, IP)
    outcomes += [await world.sign_in("alice", WRONG) for _ in range(5)]
    assert outcomes == ["ok"] + ["invalid"] * 3 + [f"locked:{LOCK}"] * 2
    # ok, busy: reserved and settled; wrong: reserved only; locked (alice, then the IP): the same.
    assert counting.calls == ["reserve_all", "settle"] * 2 + ["reserve_all"] * 5
    assert (await world.failures(ip_key(IP)), await world.failures("alice")) == (5, 4)
    assert await world.failures("bob") == 0  # cleared by the success, released when busy


async def test_password_reset_clearing_lifts_the_lock(world: World) -> None:
    for _ in range(3):
        await world.sign_in("alice", WRONG)
    assert await world.services.lockout.clear("alice") is True  # what the reset flow calls
    assert await world.sign_in("alice", PASSWORD) == "ok"
    assert await world.services.lockout.clear("alice") is False


async def test_expired_rows_are_purged_by_later_traffic(world: World) -> None:
    await world.sign_in("alice", WRONG)
    assert await world.failures("alice") == 1
    world.clock.advance(LOCK + 61)
    await world.sign_in("bob", WRONG)
    assert await world.failures("alice") is None  # the row is gone, no cron involved
    assert await world.failures(ip_key(IP)) == 1


async def test_a_typed_username_cannot_touch_an_ip_key(world: World) -> None:
    for _ in range(25):
        await world.sign_in(f"ip:{IP}", WRONG, ip="192.0.2.200")
    assert await world.failures(ip_key(IP)) is None
    assert await world.sign_in("bob", PASSWORD) == "ok"
    # A (never registrable) username key; its IP was locked after 20 and stopped charging it.
    assert await world.failures(f"ip:{IP}") == 20


async def test_locks_listing_and_clearing_by_key(world: World) -> None:
    for _ in range(3):
        await world.sign_in("Alice", WRONG)
    await world.sign_in("bob", WRONG)
    await world.services.lock_store.reserve("RESET:alice", world.clock(), LOCK)  # a throttle
    world.clock.advance(100)
    listed = {info.key: info for info in await world.services.lockout.locks()}
    assert set(listed) == {"alice", "bob", f"ip:{IP}"}
    assert (listed["alice"].failures, listed["alice"].locked) == (3, True)
    assert listed["alice"].seconds_left == LOCK - 100
    assert (listed["bob"].locked, listed[f"ip:{IP}"].failures) == (False, 4)
    locked = await world.services.lockout.locks(locked_only=True)
    assert [info.key for info in locked] == ["alice"]
    assert await world.services.lockout.clear_key("  ALICE ") is True
    assert await world.services.lockout.clear_key(f"ip:{IP}") is True
    assert await world.sign_in("alice", PASSWORD) == "ok"


def test_ip_keys_are_normalised() -> None:
    assert ip_key("192.0.2.1") == ip_key("::ffff:192.0.2.1") == "IP:192.0.2.1"
    # One IPv6 subscriber (a /64) is one key: rotating addresses inside it does not help.
    assert ip_key("2001:db8:1:2::1") == ip_key("2001:db8:1:2:ffff::9") == "IP:2001:db8:1:2::/64"
    assert parse_key("ip:2001:db8:1:2::7") == parse_key("IP:2001:db8:1:2::/64")
    assert parse_key("ip:192.0.2.1") == "IP:192.0.2.1"
    assert parse_key(" Ａlice ") == "alice"
    for bad in ("ip:nonsense", "ip:10.0.0.0/8", "   "):
        with pytest.raises(ValueError, match=r"not an IP address|empty key"):
            parse_key(bad)


def test_cheap_argon2_is_what_the_counting_hasher_uses() -> None:
    assert CHEAP_ARGON2["argon2_time_cost"] == 1
