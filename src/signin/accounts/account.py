"""The signed-in user's own account: password change and sessions (SPEC section 3, /account).

The current password is checked through the sign-in path, so it counts against the fail lock
like any other guess: a stolen session cookie gives no unthrottled password oracle.
"""

from __future__ import annotations

import logging

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.errors import InvalidCredentials, MailNotSent, NotAuthenticated, WrongPassword
from signin.accounts.newpassword import NewPassword
from signin.accounts.sessions import SessionManager
from signin.accounts.signin import Authenticator
from signin.mail import Letters
from signin.stores.base import SessionRecord, UserRecord, UserStore

log = logging.getLogger("signin.account")


class AccountService:
    def __init__(
        self,
        users: UserStore,
        authenticator: Authenticator,
        new_password: NewPassword,
        sessions: SessionManager,
        letters: Letters,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.users = users
        self.authenticator = authenticator
        self.new_password = new_password
        self.sessions = sessions
        self.letters = letters
        self.audit = audit

    async def user(self, user_id: int) -> UserRecord:
        user = await self.users.by_id(user_id)
        if user is None or user.disabled:
            raise NotAuthenticated()
        return user

    async def change_password(
        self, user_id: int, session_id: str, current: str, new: str, *, ip: str | None
    ) -> int:
        """Check `current`, store `new`, end every other session; returns how many ended.

        `WrongPassword` (401), `AccountLocked` (429), `InvalidInput` (422), `Busy` (503).
        """
        user = await self.user(user_id)
        try:
            await self.authenticator.sign_in(user.username, current, ip, during="password_change")
        except InvalidCredentials:
            raise WrongPassword() from None
        password_hash = await self.new_password.hash_for(user, new)
        changed_at = await self.new_password.store(user, password_hash)
        ended = await self.sessions.end_all(user.id, keep_id=session_id)
        self.audit.record("password_changed", user.username_canon, sessions_ended=ended)
        log.info("password changed on the account page for user id %d", user.id)
        if user.email and user.email_verified:
            try:
                await self.letters.password_changed(user, by="account", when=changed_at, ip=ip)
            except MailNotSent as exc:
                log.warning("password-changed notice not sent: %s", exc.detail)
        return ended

    async def list_sessions(self, user_id: int) -> list[SessionRecord]:
        return await self.sessions.list_for_user(user_id)

    async def end_session(self, user_id: int, session_id: str) -> bool:
        ended = await self.sessions.end_by_id(user_id, session_id)
        if ended:
            await self._ended(user_id, session=session_id)
        return ended

    async def end_others(self, user_id: int, keep_id: str) -> int:
        ended = await self.sessions.end_all(user_id, keep_id=keep_id)
        if ended:
            await self._ended(user_id, sessions=ended)
        return ended

    async def _ended(self, user_id: int, **details: str | int) -> None:
        user = await self.users.by_id(user_id)
        if user is not None:
            self.audit.record("session_ended", user.username_canon, **details)
