"""The fail-lock policy (SPEC section 5).

Every sign-in attempt is counted *before* its password is checked, by one atomic reservation per
key (the username's canonical form, and `ip:ADDRESS`). An attempt whose count passes the limit is
refused without hashing, and still counts, so the lock runs from the last attempt. A success
clears the username's key and takes back its own count on the IP key: successes never lock an
IP, yet an attacker cannot reset an IP's count by signing in to an account of his own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from signin.accounts.clock import Clock
from signin.accounts.errors import AccountLocked
from signin.stores.base import LockRecord, LockStore

IP_PREFIX = "ip:"
PURGE_EVERY = 60.0


@dataclass(frozen=True)
class Attempt:
    user_key: str
    ip_key: str | None


@dataclass(frozen=True)
class LockInfo:
    key: str
    failures: int
    locked: bool
    retry_after: int


class Lockout:
    def __init__(
        self,
        store: LockStore,
        *,
        max_failures: int,
        ip_max_failures: int,
        lock_seconds: int,
        clock: Clock,
    ) -> None:
        self.store = store
        self.max_failures = max_failures
        self.ip_max_failures = ip_max_failures
        self.lock_seconds = lock_seconds
        self.clock = clock
        self._next_purge = 0.0

    async def reserve(self, username_canon: str, ip: str | None) -> Attempt:
        """Count one attempt; raise `AccountLocked` when the username or the IP is locked."""
        now = self.clock()
        await self._maybe_purge(now)
        ip_key = IP_PREFIX + ip if ip else None
        if ip_key is not None:
            ip_count = await self.store.reserve(ip_key, now, self.lock_seconds)
            if ip_count > self.ip_max_failures:
                raise AccountLocked(self.lock_seconds)
        count = await self.store.reserve(username_canon, now, self.lock_seconds)
        if count > self.max_failures:
            raise AccountLocked(self.lock_seconds)
        return Attempt(username_canon, ip_key)

    async def succeeded(self, attempt: Attempt) -> None:
        await self.store.clear(attempt.user_key)
        if attempt.ip_key is not None:
            await self.store.release(attempt.ip_key)

    async def abandoned(self, attempt: Attempt) -> None:
        """The password was never checked (server busy): the attempt does not count."""
        await self.store.release(attempt.user_key)
        if attempt.ip_key is not None:
            await self.store.release(attempt.ip_key)

    async def clear(self, key: str) -> bool:
        return await self.store.clear(key)

    async def locks(self, *, locked_only: bool = False) -> list[LockInfo]:
        now = self.clock()
        records = await self.store.list(now, self.lock_seconds)
        infos = [self._info(record, now) for record in records]
        return [info for info in infos if info.locked or not locked_only]

    def _info(self, record: LockRecord, now: float) -> LockInfo:
        limit = self.ip_max_failures if record.key.startswith(IP_PREFIX) else self.max_failures
        left = max(0, math.ceil(record.last_attempt + self.lock_seconds - now))
        return LockInfo(record.key, record.failures, record.failures >= limit, left)

    async def _maybe_purge(self, now: float) -> None:
        # Expired keys are forgotten by the reservation itself; this only reclaims their rows.
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            await self.store.purge(now, self.lock_seconds)
