"""argon2id over the pre-hash, its re-hash policy, and the bounded pool the hashing runs in.

Hashing never runs on the event loop: at most `workers` hashes run at once (one per core by
default) and at most `queue` more wait. Past that, `HasherBusy` tells the caller to answer 503
with `Retry-After` instead of letting memory grow without bound (SPEC section 11).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")
HASH_THREAD_NICENESS = 10  # added to the process's own niceness


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
        self.capacity = self.workers + queue
        self._pool: ThreadPoolExecutor | None = None
        self._pending = 0
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
        return await self._run(self.hash_sync, prehash)

    async def verify(self, stored: str, prehash: str) -> tuple[bool, str | None]:
        return await self._run(self.verify_sync, stored, prehash)

    async def dummy_verify(self) -> None:
        """Spend one verification's time so an unknown username answers as slowly as a known one."""
        await self._run(self.dummy_verify_sync)

    async def run(self, func: Callable[..., T], *args: str) -> T:
        """Run other CPU-bound password work (the common-list sweep) in the same bounded pool."""
        return await self._run(func, *args)

    async def _run(self, func: Callable[..., T], *args: str) -> T:
        if self._pending >= self.capacity:
            raise HasherBusy(retry_after=1)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.workers, thread_name_prefix="argon2", initializer=_yield_to_requests
            )
        self._pending += 1
        if self.on_queue is not None:
            self.on_queue(self._pending)
        try:
            work = func if self.on_hash is None else self._timed(func, self.on_hash)
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        finally:
            self._pending -= 1
            if self.on_queue is not None:
                self.on_queue(self._pending)

    @staticmethod
    def _timed(func: Callable[..., T], report: Callable[[float], None]) -> Callable[..., T]:
        def timed(*args: str) -> T:
            started = time.perf_counter()
            try:
                return func(*args)
            finally:
                report(time.perf_counter() - started)

        return timed

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
