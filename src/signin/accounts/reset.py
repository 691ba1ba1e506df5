"""Forgot password and reset by link (SPEC section 3).

`request()` answers alike for every login: whether the account exists, has a verified address,
or was rate-limited, it does comparable work (one user lookup, one counter, one contact with the
mail transport: a send or a probe) and then waits out a common minimum duration, so neither the
page, the status nor the timing tells who has an account. A failing mail server fails every
request the same way (503, retry); a token whose mail may not have arrived stays valid, because
an SMTP error after the data was sent does not prove the mail was lost.

`reset()` checks the token, applies the password policy (a refused password leaves the token
usable), uses the token up atomically, stores the new password (which kills every other reset
link), ends every session of the user, clears the username's fail lock and sends a notice. It
never signs anyone in: the person must prove the new password on the sign-in page.
"""

from __future__ import annotations

import asyncio
import logging
import time

from signin.accounts.addresses import email_canon
from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.errors import (
    InvalidInput,
    MailNotSent,
    NotFound,
    Problem,
    RateLimited,
    TokenForeign,
)
from signin.accounts.lockout import Lockout
from signin.accounts.newpassword import NewPassword
from signin.accounts.sessions import SessionManager
from signin.accounts.throttle import Throttle
from signin.accounts.tokens import OneTimeTokens, Redeemable
from signin.accounts.usernames import canon
from signin.i18n import N_
from signin.mail import Letters
from signin.stores.base import UserRecord, UserStore

log = logging.getLogger("signin.reset")
MAX_LOGIN = 320
MIN_SECONDS = 0.2


class PasswordResets:
    def __init__(
        self,
        users: UserStore,
        tokens: OneTimeTokens,
        letters: Letters,
        new_password: NewPassword,
        sessions: SessionManager,
        lockout: Lockout,
        throttle: Throttle,
        *,
        token_seconds: int,
        per_account: int,
        per_ip: int,
        clock: Clock,
        min_seconds: float = MIN_SECONDS,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.letters = letters
        self.new_password = new_password
        self.sessions = sessions
        self.lockout = lockout
        self.throttle = throttle
        self.token_seconds = token_seconds
        self.per_account = per_account
        self.per_ip = per_ip
        self.clock = clock
        self.min_seconds = min_seconds
        self.audit = audit

    async def request(self, login: str, ip: str | None) -> None:
        """Mail a reset link if `login` names an account with a verified address.

        Returns the same way whether or not it did; raises `RateLimited` (per client IP),
        `MailNotSent` (the mail transport failed) or `InvalidInput` (empty login) alike for all.
        """
        login = login.strip()[:MAX_LOGIN]
        if not login:
            raise InvalidInput(
                [Problem("login_required", "login", N_("Enter your username or email address."))]
            )
        started = time.monotonic()
        try:
            if ip and not await self.throttle.allow("ip:" + ip, self.per_ip):
                raise RateLimited(self.throttle.window)
            user = await self._find(login)
            key = f"user:{user.id}" if user is not None else "login:" + canon(login)[:150]
            allowed = await self.throttle.allow(key, self.per_account)
            sent = allowed and user is not None and self._can_receive(user)
            if user is not None:
                self.audit.record("password_reset_requested", user.username_canon, mailed=sent)
            if sent and user is not None:
                token = await self.tokens.issue(user, "reset", self.token_seconds)
                await self.letters.reset_link(user, token, self.token_seconds)
            else:
                await self.letters.probe()
        finally:
            # The common floor hides the database and file-system work a real send adds.
            left = self.min_seconds - (time.monotonic() - started)
            if left > 0:
                await asyncio.sleep(left)

    async def link_for(self, username: str) -> str:
        """A reset token for an administrator to hand over (`signin users reset-link`)."""
        user = await self.users.by_canon(canon(username.strip()))
        if user is None:
            raise NotFound(N_("No account named %(username)r."), username=username)
        if user.disabled:
            raise InvalidInput(
                [Problem("account_disabled", "username", N_("That account is disabled."))]
            )
        return await self.tokens.issue(user, "reset", self.token_seconds)

    async def check(self, token: str, *, user_id: int | None = None) -> Redeemable:
        """The account a reset link is for; raises `TokenInvalid` (and subclasses) otherwise."""
        return await self.tokens.check(token, "reset", user_id=user_id)

    async def reset(
        self,
        token: str,
        password: str,
        *,
        ip: str | None,
        user_id: int | None = None,
        username: str | None = None,
    ) -> UserRecord:
        """Set the new password; `user_id`/`username` name who the form was shown to, if known."""
        found = await self.tokens.check(token, "reset", user_id=user_id)
        if username and canon(username.strip()) != found.user.username_canon:
            # The browser pre-hashed for another account than the token's: the new password
            # would be stored for a name that cannot sign in with it.
            raise TokenForeign()
        password_hash = await self.new_password.hash_for(found.user, password)
        user = await self.tokens.redeem(token, "reset", user_id=user_id)
        changed_at = await self.new_password.store(user, password_hash)
        await self.sessions.end_all(user.id)
        await self.lockout.clear(user.username_canon)
        log.info("password reset by link for user id %d", user.id)
        self.audit.record("password_reset", user.username_canon)
        if self._can_receive(user):
            try:
                await self.letters.password_changed(user, by="reset", when=changed_at, ip=ip)
            except MailNotSent as exc:
                log.warning("password-changed notice not sent: %s", exc.detail)
        return user

    async def _find(self, login: str) -> UserRecord | None:
        if "@" in login:
            return await self.users.by_email(email_canon(login))
        return await self.users.by_canon(canon(login))

    @staticmethod
    def _can_receive(user: UserRecord) -> bool:
        return bool(user.email) and user.email_verified and not user.disabled
