"""Rate limits for mail-sending requests (reset and verification links).

Counts live in the lock store (SQL table or Redis) under their own key prefixes (`RESET:`,
`VERIFY:`), so they are shared by every process and survive restarts like the fail locks. The
prefixes are upper case on purpose: sign-in keys are `canon(typed username)`, and case folding
never yields an upper-case letter, so no sign-in attempt can bump (and exhaust) these counters.
The window is the lock window (`SIGNIN_LOCK_SECONDS`): the lock store forgets keys after that
window, so a longer one would be cut short by the purge.
"""

from __future__ import annotations

from signin.accounts.clock import Clock
from signin.stores.base import LockStore

MAX_REMEMBERED = 10_000  # keys this process refuses from memory (a bound on its size)


class Throttle:
    def __init__(self, store: LockStore, *, prefix: str, window: int, clock: Clock) -> None:
        if prefix.casefold() == prefix:
            raise ValueError("a throttle prefix needs an upper-case letter (see module doc)")
        self.store = store
        self.prefix = prefix
        self.window = window
        self.clock = clock
        # Keys found over their limit, and until when: refused without a write. A flood from
        # one address would otherwise queue one durable write per request on the store, in
        # front of every sign-in's writes (bench W6: sign-in 68 ms idle, seconds flooded).
        self._refused_until: dict[str, float] = {}

    async def allow(self, key: str, limit: int) -> bool:
        """Count one request for `key`; False once more than `limit` fall in the window."""
        now = self.clock()
        if self._refused_until.get(key, 0.0) > now:
            return False
        count = await self.store.reserve(self.prefix + key, now, self.window)
        if count <= limit:
            return True
        if len(self._refused_until) >= MAX_REMEMBERED:
            self._refused_until = {k: t for k, t in self._refused_until.items() if t > now}
        if len(self._refused_until) < MAX_REMEMBERED:
            self._refused_until[key] = now + self.window
        return False
