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


class Throttle:
    def __init__(self, store: LockStore, *, prefix: str, window: int, clock: Clock) -> None:
        if prefix.casefold() == prefix:
            raise ValueError("a throttle prefix needs an upper-case letter (see module doc)")
        self.store = store
        self.prefix = prefix
        self.window = window
        self.clock = clock

    async def allow(self, key: str, limit: int) -> bool:
        """Count one request for `key`; False once more than `limit` fall in the window."""
        count = await self.store.reserve(self.prefix + key, self.clock(), self.window)
        return count <= limit
