"""Email verification: a one-time link mailed at sign-up and on request from the account page.

Only a verified address receives reset links and notices: an address typed at sign-up might
be someone else's, and mailing account links there would hand them the account.
"""

from __future__ import annotations

import dataclasses
import logging

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.errors import MailNotSent, RateLimited, TokenStale
from signin.accounts.throttle import Throttle
from signin.accounts.tokens import OneTimeTokens
from signin.mail import Letters
from signin.stores.base import UserRecord, UserStore

log = logging.getLogger("signin.verify")


class EmailVerification:
    def __init__(
        self,
        users: UserStore,
        tokens: OneTimeTokens,
        letters: Letters,
        throttle: Throttle,
        *,
        token_seconds: int,
        per_account: int,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.letters = letters
        self.throttle = throttle
        self.token_seconds = token_seconds
        self.per_account = per_account
        self.clock = clock
        self.audit = audit

    def needs_verification(self, user: UserRecord) -> bool:
        return bool(user.email) and not user.email_verified

    async def send(self, user: UserRecord) -> bool:
        """Mail a link; False when there is nothing to verify. `RateLimited`, `MailNotSent`."""
        if not self.needs_verification(user) or user.disabled:
            return False
        if not await self.throttle.allow(f"user:{user.id}", self.per_account):
            raise RateLimited(self.throttle.window)
        token = await self.tokens.issue(user, "verify", self.token_seconds)
        await self.letters.verify_link(user, token, self.token_seconds)
        return True

    async def after_sign_up(self, user: UserRecord) -> None:
        """The sign-up hook: the account exists already, so a mail failure must not undo it;
        the account page offers to send the link again."""
        try:
            await self.send(user)
        except (MailNotSent, RateLimited) as exc:
            log.warning("verification mail for user id %d not sent: %s", user.id, exc.message)
        except Exception:
            log.exception("verification mail for user id %d failed", user.id)

    async def confirm(self, token: str, *, user_id: int | None = None) -> UserRecord:
        """Use a verification link; the verified user, or `TokenInvalid` and its subclasses."""
        user = await self.tokens.redeem(token, "verify", user_id=user_id)
        if user.email is None or not await self.users.set_email_verified(
            user.id, user.email, self.clock()
        ):
            raise TokenStale()
        self.audit.record("email_verified", user.username_canon)
        return dataclasses.replace(user, email_verified=True)
