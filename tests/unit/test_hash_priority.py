"""Hash threads run at a lower CPU priority than the event loop (crypto/passwords.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from signin.crypto.passwords import HASH_THREAD_NICENESS, HasherBusy, PasswordHasher


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux")
async def test_hash_threads_are_niced_and_the_loop_is_not() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=64, parallelism=1, workers=1)
    try:
        loop_niceness = _niceness()
        in_pool = await hasher.run(_niceness)
        assert in_pool == min(19, loop_niceness + HASH_THREAD_NICENESS)
        assert _niceness() == loop_niceness
        assert await hasher.verify(await hasher.hash("$1$x$"), "$1$x$") == (True, None)
    finally:
        hasher.close()


async def test_sign_in_checks_go_before_waiting_sign_up_work() -> None:
    """With the only thread busy and sign-up sweeps queued, a verification runs next."""
    hasher = PasswordHasher(time_cost=1, memory_kib=64, parallelism=1, workers=1, queue=64)
    stored = await hasher.hash("$1$x$")
    gate = threading.Event()
    order: list[str] = []
    original = hasher.verify_sync

    def held(label: str) -> str:
        gate.wait(10)
        order.append(label)
        return label

    def verify(stored_hash: str, prehash: str) -> tuple[bool, str | None]:
        order.append("sign-in")
        return original(stored_hash, prehash)

    hasher.verify_sync = verify  # type: ignore[method-assign]
    try:
        running = asyncio.create_task(hasher.run(held, "first"))
        await asyncio.sleep(0.05)
        queued = [asyncio.create_task(hasher.run(held, f"sign-up {n}")) for n in range(3)]
        await asyncio.sleep(0.05)
        sign_in = asyncio.create_task(hasher.verify(stored, "$1$x$"))
        await asyncio.sleep(0.05)
        gate.set()
        assert await sign_in == (True, None)
        await asyncio.gather(running, *queued)
    finally:
        gate.set()
        hasher.close()
    assert order == ["first", "sign-in", "sign-up 0", "sign-up 1", "sign-up 2"]


async def test_a_full_sign_up_queue_leaves_room_for_sign_ins() -> None:
    """Sign-up work past its bound is refused; a sign-in is still taken and answered."""
    hasher = PasswordHasher(time_cost=1, memory_kib=64, parallelism=1, workers=1, queue=0)
    stored = await hasher.hash("$1$x$")
    gate = threading.Event()
    try:
        running = asyncio.create_task(hasher.run(lambda _: gate.wait(10), "x"))
        await asyncio.sleep(0.05)
        with pytest.raises(HasherBusy):
            await hasher.run(str, "refused")
        sign_in = asyncio.create_task(hasher.verify(stored, "$1$x$"))
        await asyncio.sleep(0.05)
        gate.set()
        assert await sign_in == (True, None)
        assert await running is True
    finally:
        gate.set()
        hasher.close()


async def test_a_cancelled_waiter_gives_its_turn_on() -> None:
    """A request that goes away while queued neither runs nor keeps a thread."""
    hasher = PasswordHasher(time_cost=1, memory_kib=64, parallelism=1, workers=1)
    gate = threading.Event()
    try:
        running = asyncio.create_task(hasher.run(lambda _: gate.wait(10), "x"))
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(hasher.run(str, "gone"))
        await asyncio.sleep(0.05)
        waiter.cancel()
        gate.set()
        await running
        assert await hasher.run(str, "next") == "next"
        assert hasher._running == 0
    finally:
        gate.set()
        hasher.close()
