"""Fail-lock counters in Redis (SPEC section 5): one hash per key, reserved by one Lua script.

`reserve` has the semantics of the SQL upsert: the count starts again from 1 when the last attempt
is `window` seconds old or more, and the call returns the failures including this attempt. Being
one script, it runs atomically on the Redis server, so N concurrent attempts from any number of
processes get N distinct counts. Every key lives `window` seconds after its last attempt: Redis
forgets expired keys by itself, and `purge` has nothing left to do.
"""

from __future__ import annotations

from typing import Any

from signin.stores.base import LockRecord
from signin.stores.redis.common import RedisStore, as_float, as_text, text, unavailable_on_error

Names = list[str]
Records = list[LockRecord]  # `list` is a method name inside the class

# KEYS[1] the lock hash; ARGV[1] now, ARGV[2] window in seconds.
# The time is stored as the caller's text, not Lua's tostring (which keeps only 14 digits).
RESERVE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'failures', 'last_attempt')
local failures = 1
if state[1] and state[2] and tonumber(state[2]) > now - window then
  failures = tonumber(state[1]) + 1
end
redis.call('HSET', KEYS[1], 'failures', failures, 'last_attempt', ARGV[1])
redis.call('EXPIRE', KEYS[1], window)
return failures
"""

# KEYS[1] the lock hash. Takes back one attempt; the time of the last attempt and the TTL stay.
RELEASE = """
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures'))
if failures and failures > 0 then
  redis.call('HSET', KEYS[1], 'failures', failures - 1)
end
return 0
"""


class RedisLockStore(RedisStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_prefix = self.prefix + "lock:"
        # Scripts run by EVALSHA and are loaded again by themselves after a Redis restart.
        self._reserve = self.client.register_script(RESERVE)
        self._release = self.client.register_script(RELEASE)

    def _key(self, key: str) -> str:
        return self.key_prefix + key

    async def reserve(self, key: str, now: float, window: int) -> int:
        with unavailable_on_error():
            count = await self._reserve(keys=[self._key(key)], args=[as_text(now), int(window)])
        return int(count)

    async def clear(self, key: str) -> bool:
        with unavailable_on_error():
            return int(await self.client.delete(self._key(key))) > 0

    async def release(self, key: str) -> None:
        with unavailable_on_error():
            await self._release(keys=[self._key(key)], args=[])

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
