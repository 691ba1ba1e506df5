"""Throttles refuse a key over its limit from memory, without a store write per request."""

from __future__ import annotations

from collections.abc import Sequence

from signin.accounts.throttle import Throttle


class CountingStore:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.writes = 0

    async def reserve(self, key: str, now: float, window: int) -> int:
        self.writes += 1
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    async def reserve_all(
        self, keys: Sequence[tuple[str, int]], now: float, window: int
    ) -> list[int]:
        return [await self.reserve(key, now, window) for key, _ in keys]


async def test_a_flooding_key_costs_no_write_once_refused() -> None:
    now = [1000.0]
    store = CountingStore()
    throttle = Throttle(store, prefix="SIGNUP:", window=60, clock=lambda: now[0])  # type: ignore[arg-type]
    assert [await throttle.allow("192.0.2.1", 2) for _ in range(3)] == [True, True, False]
    assert store.writes == 3
    assert not any([await throttle.allow("192.0.2.1", 2) for _ in range(100)])
    assert store.writes == 3  # refused from memory
    assert await throttle.allow("198.51.100.1", 2)  # another key is counted as before
    now[0] += 61
    store.counts.clear()  # the store forgot the window too
    assert await throttle.allow("192.0.2.1", 2)
