"""Hash threads run at a lower CPU priority than the event loop (crypto/passwords.py)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from signin.crypto.passwords import HASH_THREAD_NICENESS, PasswordHasher


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
