"""argon2id over the pre-hash: PHC strings, re-hash when the cost changes, the bounded queue."""

from __future__ import annotations

import asyncio
import threading

import pytest

from signin.crypto.passwords import HasherBusy, PasswordHasher
from signin.crypto.prehash import prehash_v1

PRE = prehash_v1("alice", "correct horse battery")


def cheap(**overrides: int) -> PasswordHasher:
    params = {"time_cost": 1, "memory_kib": 1024, "parallelism": 1, "workers": 1, "queue": 4}
    params.update(overrides)
    return PasswordHasher(**params)


async def test_hash_is_argon2id_phc_with_configured_cost() -> None:
    hasher = cheap(time_cost=2, memory_kib=2048)
    try:
        stored = await hasher.hash(PRE)
    finally:
        hasher.close()
    assert stored.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert PRE not in stored
    assert (await asyncio.to_thread(hasher.verify_sync, stored, PRE)) == (True, None)


async def test_wrong_password_and_garbage_hash_do_not_verify() -> None:
    hasher = cheap()
    try:
        stored = await hasher.hash(PRE)
        assert await hasher.verify(stored, prehash_v1("alice", "wrong")) == (False, None)
        assert await hasher.verify("not a hash", PRE) == (False, None)
        assert await hasher.verify("$argon2id$v=19$m=1024,t=1,p=1$broken", PRE) == (False, None)
    finally:
        hasher.close()


async def test_rehash_when_cost_changes() -> None:
    old, new = cheap(time_cost=1), cheap(time_cost=2)
    try:
        stored = await old.hash(PRE)
        ok, upgraded = await new.verify(stored, PRE)
        assert ok is True
        assert upgraded is not None
        assert upgraded.startswith("$argon2id$v=19$m=1024,t=2,p=1$")
        # The upgraded hash verifies and needs no further upgrade.
        assert await new.verify(upgraded, PRE) == (True, None)
        # A wrong password never yields an upgrade.
        assert await new.verify(stored, prehash_v1("alice", "nope")) == (False, None)
    finally:
        old.close()
        new.close()


async def test_rehash_when_memory_changes() -> None:
    old, new = cheap(memory_kib=1024), cheap(memory_kib=2048)
    try:
        stored = await old.hash(PRE)
        ok, upgraded = await new.verify(stored, PRE)
        assert ok
        assert upgraded is not None
        assert "m=2048" in upgraded
    finally:
        old.close()
        new.close()


async def test_hashing_runs_off_the_event_loop() -> None:
    hasher = cheap()
    seen: list[str] = []
    original = hasher.hash_sync

    def spy(value: str) -> str:
        seen.append(threading.current_thread().name)
        return original(value)

    hasher.hash_sync = spy  # type: ignore[method-assign]
    try:
        await hasher.hash(PRE)
    finally:
        hasher.close()
    assert seen
    assert seen[0].startswith("argon2")


async def test_busy_when_the_bounded_queue_is_full() -> None:
    """One worker + one queue slot: the third concurrent request is refused at once."""
    hasher = cheap(workers=1, queue=1)
    gate = threading.Event()
    original = hasher.hash_sync

    def slow(value: str) -> str:
        gate.wait(5)
        return original(value)

    hasher.hash_sync = slow  # type: ignore[method-assign]
    try:
        first = asyncio.ensure_future(hasher.hash(PRE))
        second = asyncio.ensure_future(hasher.hash(PRE))
        await asyncio.sleep(0.05)
        with pytest.raises(HasherBusy) as caught:
            await hasher.hash(PRE)
        assert caught.value.retry_after >= 1
        # Sign-in's verifications have a queue of their own (test_hash_priority.py).
        gate.set()
        assert all(h.startswith("$argon2id$") for h in await asyncio.gather(first, second))
        # Capacity is given back once the work is done.
        assert (await hasher.hash(PRE)).startswith("$argon2id$")
    finally:
        gate.set()
        hasher.close()


async def test_dummy_verify_costs_a_verification() -> None:
    hasher = cheap()
    try:
        await hasher.dummy_verify()
        await hasher.dummy_verify()
    finally:
        hasher.close()
