"""Fail-lock counters in Redis (SPEC section 5): one hash per key, reserved by one Lua script.

`reserve` has the semantics of the SQL upsert: the count starts again from 1 when the last attempt
is `window` seconds old or more, and the call returns the failures including this attempt. Being
one script, it runs atomically on the Redis server, so N concurrent attempts from any number of
processes get N distinct counts. `reserve_all` is the same script over several keys, and
`settle` one script that releases and clears: one round trip each per sign-in attempt. Every
key lives `window` seconds after its last attempt: Redis forgets expired keys by itself, and
`purge` has nothing left to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from signin.stores.base import LockRecord
from signin.stores.redis.common import RedisStore, as_float, as_text, text, unavailable_on_error
from signin.stores.redis.mux import Multiplexer

Names = list[str]
Records = list[LockRecord]  # `list` is a method name inside the class

# KEYS the lock hashes, in order; ARGV[1] now, ARGV[2] window in seconds, ARGV[2 + i] the limit
# of KEYS[i] (none: no limit). Counts each key in turn and stops after the first whose count
# passes its limit; returns the counts made.
# The time is stored as the caller's text, not Lua's tostring (which keeps only 14 digits).
RESERVE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local counts = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'failures', 'last_attempt')
  local failures = 1
  if state[1] and state[2] and tonumber(state[2]) > now - window then
    failures = tonumber(state[1]) + 1
  end
  redis.call('HSET', key, 'failures', failures, 'last_attempt', ARGV[1])
  redis.call('EXPIRE', key, window)
  counts[i] = failures
  local limit = tonumber(ARGV[2 + i])
  if limit and failures > limit then break end
end
return counts
"""

# KEYS the lock hashes; ARGV[1] how many of them, from the first, take back one attempt (never
# below 0; the time of the last attempt and the TTL stay); the rest are deleted.
SETTLE = """
local released = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if i <= released then
    local failures = tonumber(redis.call('HGET', key, 'failures'))
    if failures and failures > 0 then
      redis.call('HSET', key, 'failures', failures - 1)
    end
  else
    redis.call('DEL', key)
  end
end
return 0
"""


class RedisLockStore(RedisStore):
    def __init__(self, *args: Any, mux: Multiplexer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_prefix = self.prefix + "lock:"
        # Every sign-in attempt runs both: on the multiplexed connection (stores/redis/mux.py).
        # Scripts run by EVALSHA and are loaded again by themselves after a Redis restart.
        self._reserve = mux.script(RESERVE)
        self._settle = mux.script(SETTLE)

    def _key(self, key: str) -> str:
        return self.key_prefix + key

    async def reserve(self, key: str, now: float, window: int) -> int:
        return (await self._reserve_keys([key], [], now, window))[0]

    async def reserve_all(
        self, keys: Sequence[tuple[str, int]], now: float, window: int
    ) -> list[int]:
        return await self._reserve_keys(
            [key for key, _ in keys], [limit for _, limit in keys], now, window
        )

    async def _reserve_keys(
        self, keys: Names, limits: list[int], now: float, window: int
    ) -> list[int]:
        if not keys:
            return []
        with unavailable_on_error():
            counts = await self._reserve(
                keys=[self._key(key) for key in keys],
                args=[as_text(now), int(window), *limits],
            )
        return [int(count) for count in counts]

    async def settle(self, *, release: Sequence[str] = (), clear: Sequence[str] = ()) -> None:
        keys = [self._key(key) for key in (*release, *clear)]
        if not keys:
            return
        with unavailable_on_error():
            await self._settle(keys=keys, args=[len(release)])

    async def clear(self, key: str) -> bool:
        with unavailable_on_error():
            return int(await self.client.delete(self._key(key))) > 0

    async def release(self, key: str) -> None:
        await self.settle(release=(key,))

    async def get(self, key: str, now: float, window: int) -> LockRecord | None:
        with unavailable_on_error():
            failures, last = await self.client.hmget(self._key(key), ["failures", "last_attempt"])
        return _live(key, text(failures), text(last), now, window)

    async def list(self, now: float, window: int) -> Records:
        found: Records = []
        with unavailable_on_error():
            batch: Names = []
            async for redis_key in self.scan_keys(self.key_prefix):
                batch.append(redis_key)
                if len(batch) >= 200:
                    found += await self._records(batch, now, window)
                    batch = []
            found += await self._records(batch, now, window)
        found.sort(key=lambda record: record.last_attempt, reverse=True)
        return found

    async def _records(self, redis_keys: Names, now: float, window: int) -> Records:
        if not redis_keys:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for redis_key in redis_keys:
                pipe.hmget(redis_key, ["failures", "last_attempt"])
            rows = await pipe.execute()
        records = []
        for redis_key, (failures, last) in zip(redis_keys, rows, strict=True):
            record = _live(redis_key[len(self.key_prefix) :], failures, last, now, window)
            if record is not None:
                records.append(record)
        return records

    async def purge(self, now: float, window: int) -> int:
        """Nothing to do: every key expires `window` seconds after its last attempt."""
        return 0


def _live(
    key: str, failures: str | None, last: str | None, now: float, window: int
) -> LockRecord | None:
    # The window is checked here too, so the caller's clock decides, as it does on SQL.
    if failures is None or last is None:
        return None
    last_attempt = as_float(last)
    if last_attempt <= now - window:
        return None
    return LockRecord(key, int(failures), last_attempt)
