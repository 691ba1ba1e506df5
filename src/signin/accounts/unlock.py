"""The lock mail and its unlock link (SPEC section 5a).

When an untrusted attempt locks an account that has a verified address, the owner gets one mail
(at most one per lock window: a `UNLOCK:` throttle in the lock store, shared by every process)
with a single-use link. Opening it shows a confirm button; confirming gives that browser a device
proof (accounts/devices.py) and nothing else: no session, no cleared lock. The owner still types
the password, now as a trusted attempt that the strangers' lock does not refuse.

The mail is sent in the background: the failed attempt that started the lock answers at once,
exactly as every other failure does, so neither its timing nor its answer tells that the account
exists or has an address. Mail scanners that follow links only see the confirm page.
"""

from __future__ import annotations

import asyncio
import logging

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.throttle import Throttle
from signin.accounts.tokens import OneTimeTokens, Redeemable
from signin.mail import Letters
from signin.stores.base import UserRecord

log = logging.getLogger("signin.unlock")


class UnlockLinks:
    def __init__(
        self,
        tokens: OneTimeTokens,
        letters: Letters,
        throttle: Throttle,
        *,
        token_seconds: int,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.tokens = tokens
        self.audit = audit
        self.letters = letters
        self.throttle = throttle
        self.token_seconds = token_seconds
        self._sending: set[asyncio.Task[None]] = set()

    def lock_started(self, user: UserRecord) -> None:
        """An untrusted lock just started on `user`: mail the owner, without waiting for it."""
        if not (user.email and user.email_verified and not user.disabled):
            return
        task = asyncio.get_running_loop().create_task(self._mail(user))
        self._sending.add(task)  # a task nobody holds may be collected before it finishes
        task.add_done_callback(self._sending.discard)

    async def _mail(self, user: UserRecord) -> None:
        try:
            if not await self.throttle.allow(f"user:{user.id}", 1):
                return
            token = await self.tokens.issue(user, "unlock", self.token_seconds)
            await self.letters.unlock_link(user, token, self.token_seconds)
            log.info("unlock mail sent for user id %d", user.id)
        except Exception as exc:  # a background task: nobody else would see it
            log.warning("unlock mail for user id %d not sent: %s", user.id, type(exc).__name__)

    async def check(self, token: str) -> Redeemable:
        """The account an unlock link is for; raises `TokenInvalid` (and subclasses)."""
        return await self.tokens.check(token, "unlock")

    async def redeem(self, token: str) -> UserRecord:
        """Use the link up (once, atomically); the caller then gives the browser a proof."""
        user = await self.tokens.redeem(token, "unlock")
        self.audit.record("device_unlocked", user.username_canon)
        return user

    async def drain(self) -> None:
        """Wait for mails still being sent (shutdown, tests)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)
