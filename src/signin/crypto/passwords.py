"""argon2id over the pre-hash, its re-hash policy, and the bounded pool the hashing runs in.

Hashing never runs on the event loop: at most `workers` hashes run at once (one per core by
default) and at most `queue` more wait. Past that, `HasherBusy` tells the caller to answer 503
with `Retry-After` instead of letting memory grow without bound (SPEC section 11).

Two queues, served in order of priority (SPEC section 16): sign-in's verifications (`verify`,
`dummy_verify`) go first; new hashes and the common-password sweep of a sign-up (`hash`, `run`)
take a free thread only when no verification waits. Each queue has its own bound, so a flood of
junk sign-ups (~36 ms of SHA-512 each) fills its own queue and gets its own 503s, while a real
sign-in waits at most for one running job per thread, never behind the flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")
HASH_THREAD_NICENESS = 10  # added to the process's own niceness
Priority = Literal["sign-in", "other"]


def _yield_to_requests() -> None:
    """Lower this hashing thread's CPU priority (Linux: niceness is per thread).

    With one hash per core, the hash threads and the event loop would share the cores equally,
    and a flood of sign-ins would slow every session check (bench W3: p99 528 -> 129 ms on a
    loaded machine). At niceness 10 the scheduler serves the event loop first; hashes still get
    every cycle the requests leave free. Where this is not possible, nothing changes.
    """
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + HASH_THREAD_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness))


class HasherBusy(Exception):
    """Too many hashes queued; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("password hashing queue is full")
        self.retry_after = retry_after


class PasswordHasher:
    """argon2id with cost from settings; verifies, re-hashes, and burns time for unknown users."""

    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        workers: int = 0,
        queue: int = 64,
    ) -> None:
        self._argon = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self.workers = workers or os.cpu_count() or 1
        self.capacity = self.workers + queue  # per queue: sign-ins are bounded apart from the rest
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[Priority, int] = {"sign-in": 0, "other": 0}
        self._running = 0
        self._waiting: dict[Priority, deque[asyncio.Future[None]]] = {
            "sign-in": deque(),
            "other": deque(),
        }
        self._dummy_hash: str | None = None
        # Metrics hooks (telemetry.py): seconds of each hash, and the queue length as it moves.
        self.on_hash: Callable[[float], None] | None = None
        self.on_queue: Callable[[int], None] | None = None

    # -- synchronous core (runs in the pool) ------------------------------------------------

    def hash_sync(self, prehash: str) -> str:
        return self._argon.hash(prehash)

    def verify_sync(self, stored: str, prehash: str) -> tuple[bool, str | None]:
        """(matches, new hash when the stored one uses an outdated cost)."""
        try:
            self._argon.verify(stored, prehash)
        except VerifyMismatchError:
            return False, None
        except (VerificationError, InvalidHashError):
            return False, None
        if self._argon.check_needs_rehash(stored):
            return True, self._argon.hash(prehash)
        return True, None

    def dummy_verify_sync(self) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = self._argon.hash("$1$dummy$")
        self.verify_sync(self._dummy_hash, "$1$not-the-dummy$")

    # -- async front ------------------------------------------------------------------------

    async def hash(self, prehash: str) -> str:
        return await self._run("other", self.hash_sync, prehash)

    async def verify(self, stored: str, prehash: str) -> tuple[bool, str | None]:
        return await self._run("sign-in", self.verify_sync, stored, prehash)

    async def dummy_verify(self) -> None:
        """Spend one verification's time so an unknown username answers as slowly as a known one."""
        await self._run("sign-in", self.dummy_verify_sync)

    async def run(self, func: Callable[..., T], *args: str) -> T:
        """Run other CPU-bound password work (the common-list sweep) behind sign-in's checks."""
        return await self._run("other", func, *args)

    async def _run(self, priority: Priority, func: Callable[..., T], *args: str) -> T:
        if self._pending[priority] >= self.capacity:
            raise HasherBusy(retry_after=1)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.workers, thread_name_prefix="argon2", initializer=_yield_to_requests
            )
        self._pending[priority] += 1
        self._report_queue()
        try:
            await self._take_thread(priority)
            try:
                work = func if self.on_hash is None else self._timed(func, self.on_hash)
                return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
            finally:
                self._give_back_thread()
        finally:
            self._pending[priority] -= 1
            self._report_queue()

    @staticmethod
    def _timed(func: Callable[..., T], report: Callable[[float], None]) -> Callable[..., T]:
        def timed(*args: str) -> T:
            started = time.perf_counter()
            try:
                return func(*args)
            finally:
                report(time.perf_counter() - started)

        return timed

    def _report_queue(self) -> None:
        if self.on_queue is not None:
            self.on_queue(sum(self._pending.values()))

    async def _take_thread(self, priority: Priority) -> None:
        """Wait until a thread is free and no job of a higher priority waits for it."""
        ahead = self._waiting["sign-in"] if priority == "other" else ()
        if self._running < self.workers and not self._waiting[priority] and not ahead:
            self._running += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting[priority].append(turn)
        try:
            await turn  # `_give_back_thread` hands over its thread: `_running` stays counted
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._give_back_thread()  # the thread was handed over as we were cancelled
            else:
                with contextlib.suppress(ValueError):  # already skipped by `_give_back_thread`
                    self._waiting[priority].remove(turn)
            raise

    def _give_back_thread(self) -> None:
        for queue in (self._waiting["sign-in"], self._waiting["other"]):
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._running -= 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
