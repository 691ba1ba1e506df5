"""Sign-up and the admin's user operations."""

from __future__ import annotations

from signin.accounts.clock import Clock
from signin.accounts.emails import email_canon, normalize_email
from signin.accounts.errors import (
    Busy,
    EmailTaken,
    InvalidInput,
    NotFound,
    Problem,
    RateLimited,
    UsernameTaken,
)
from signin.accounts.policy import PasswordPolicy
from signin.accounts.sessions import SessionManager
from signin.accounts.throttle import Throttle
from signin.accounts.usernames import canon, skeleton, username_problems
from signin.crypto.passwords import HasherBusy, PasswordHasher
from signin.stores.base import DuplicateUser, NewUser, UserRecord, UserStore


class Registration:
    def __init__(
        self,
        users: UserStore,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        sessions: SessionManager,
        *,
        require_email: bool,
        clock: Clock,
        per_ip: Throttle | None = None,
        per_ip_limit: int = 20,
    ) -> None:
        self.users = users
        self.hasher = hasher
        self.policy = policy
        self.sessions = sessions
        self.require_email = require_email
        self.clock = clock
        self.per_ip = per_ip
        self.per_ip_limit = per_ip_limit

    async def sign_up(
        self, username: str, password: str, email: str = "", *, ip: str | None = None
    ) -> UserRecord:
        """Create an account; raise `InvalidInput` listing every problem, or a `*Taken` error.

        `ip` is the client's address (None from the CLI): past `per_ip_limit` sign-ups from one
        address in the window, `RateLimited`, before any password work (SPEC section 16).
        """
        limit = self.per_ip
        if ip is not None and limit is not None and not await limit.allow(ip, self.per_ip_limit):
            raise RateLimited(limit.window)
        # No silent strip: the browser pre-hashes the name exactly as typed, so an account made
        # from "bob " under the name "bob" could never sign in. Spaces are refused instead.
        problems: list[Problem] = list(username_problems(username))
        address, email_problems = normalize_email(email)
        problems += email_problems
        if address is None and not email_problems and self.require_email:
            problems.append(Problem("email_required", "email", "Email address is required."))
        prehash, password_problems = await self.policy.check(username, password)
        problems += password_problems
        if problems:
            raise InvalidInput(problems)
        if await self.users.by_canon(canon(username)) is not None or (
            await self.users.skeleton_taken(skeleton(username))
        ):
            raise UsernameTaken()
        if address is not None and await self.users.by_email(email_canon(address)) is not None:
            raise EmailTaken()
        try:
            password_hash = await self.hasher.hash(prehash)
        except HasherBusy as exc:
            raise Busy(exc.retry_after) from None
        try:
            return await self.users.create(
                NewUser(
                    username=username,
                    username_canon=canon(username),
                    username_skeleton=skeleton(username),
                    email=address,
                    email_canon=email_canon(address) if address else None,
                    password_hash=password_hash,
                    created_at=self.clock(),
                )
            )
        except DuplicateUser as exc:
            # Lost a race with a concurrent sign-up of the same name or address.
            raise (EmailTaken() if exc.field == "email" else UsernameTaken()) from None

    async def find(self, username: str) -> UserRecord:
        user = await self.users.by_canon(canon(username))
        if user is None:
            raise NotFound(f"No account named {username!r}.")
        return user

    async def set_disabled(self, username: str, disabled: bool) -> UserRecord:
        user = await self.find(username)
        await self.users.set_disabled(user.id, disabled)
        if disabled:
            await self.sessions.end_all(user.id)
        return user

    async def delete(self, username: str) -> UserRecord:
        user = await self.find(username)
        await self.sessions.end_all(user.id)
        await self.users.delete(user.id)
        return user
