"""Sign-up and the admin's user operations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from signin.accounts.access.invites import Invites
from signin.accounts.addresses import email_canon, normalize_email
from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.errors import (
    Busy,
    EmailTaken,
    InvalidInput,
    InviteRequired,
    NotFound,
    Problem,
    RateLimited,
    SignUpClosed,
    UsernameTaken,
)
from signin.accounts.policy import PasswordPolicy
from signin.accounts.sessions import SessionManager
from signin.accounts.throttle import Throttle
from signin.accounts.usernames import canon, skeleton, username_problems
from signin.crypto.passwords import HasherBusy, PasswordHasher
from signin.i18n import N_
from signin.stores.base import DuplicateUser, InviteRecord, NewUser, UserRecord, UserStore

AfterSignUp = Callable[[UserRecord], Awaitable[None]]


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
        after_sign_up: Sequence[AfterSignUp] = (),
        mode: str = "open",
        invites: Invites | None = None,
        per_ip: Throttle | None = None,
        per_ip_limit: int = 20,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.users = users
        self.hasher = hasher
        self.policy = policy
        self.sessions = sessions
        self.require_email = require_email
        self.clock = clock
        self.after_sign_up = list(after_sign_up)  # each must not raise (the account exists)
        self.audit = audit
        self.mode = mode  # SIGNIN_SIGNUP: open | invite | closed
        self.invites = invites
        self.per_ip = per_ip
        self.per_ip_limit = per_ip_limit

    async def offer(self, invite: str = "") -> InviteRecord | None:
        """What the sign-up page may offer: the invite in use, if any, or the refusal."""
        if self.mode == "closed":
            raise SignUpClosed()
        if invite and self.invites is not None:
            return await self.invites.check(invite)
        if self.mode == "invite":
            raise InviteRequired()
        return None

    async def sign_up(
        self,
        username: str,
        password: str,
        email: str = "",
        *,
        invite: str = "",
        welcome: bool = False,
        admin: bool = False,
        ip: str | None = None,
        language: str | None = None,
    ) -> UserRecord:
        """Create an account; raise `InvalidInput` listing every problem, or a `*Taken` error.

        Visitors pass the sign-up mode (`SignUpClosed`, `InviteRequired`, `InviteInvalid`);
        `admin` (the CLI's `users create`) may always make accounts. An invite's groups go to
        the account. `welcome=True` (a person signing up on a page or the API, not an admin's
        `users create`) runs the after-sign-up hooks once the account exists: today, the
        verification mail.
        """
        # `ip`: the client's address (None from the CLI). Past `per_ip_limit` sign-ups from one
        # address in the window, `RateLimited`, before any password work (SPEC section 16).
        limit = self.per_ip
        if ip is not None and limit is not None and not await limit.allow(ip, self.per_ip_limit):
            raise RateLimited(limit.window)
        if not admin and self.mode == "closed":
            raise SignUpClosed()
        if not admin and self.mode == "invite" and not invite:
            raise InviteRequired()
        user = await self._create(username, password, email, invite, language)
        # An administrator creating the account (CLI, admin pages), or a person signing up.
        self.audit.record("user_created" if admin else "sign_up", user.username_canon)
        if welcome:
            for hook in self.after_sign_up:
                await hook(user)
        return user

    async def _create(
        self, username: str, password: str, email: str, invite: str, language: str | None
    ) -> UserRecord:
        invites = self.invites if invite else None
        bound = await invites.check(invite) if invites is not None else None
        # No silent strip: the browser pre-hashes the name exactly as typed, so an account made
        # from "bob " under the name "bob" could never sign in. Spaces are refused instead.
        problems: list[Problem] = list(username_problems(username))
        address, email_problems = normalize_email(email)
        problems += email_problems
        if invites is not None and bound is not None and not email_problems:
            problems += invites.email_problems(bound, address)
        if address is None and not email_problems and self.require_email:
            problems.append(Problem("email_required", "email", N_("Email address is required.")))
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
        new_user = NewUser(
            username=username,
            username_canon=canon(username),
            username_skeleton=skeleton(username),
            email=address,
            email_canon=email_canon(address) if address else None,
            password_hash=password_hash,
            created_at=self.clock(),
            language=language,
        )
        try:
            if invites is not None:
                return await invites.create_user(invite, new_user)
            return await self.users.create(new_user)
        except DuplicateUser as exc:
            # Lost a race with a concurrent sign-up of the same name or address.
            raise (EmailTaken() if exc.field == "email" else UsernameTaken()) from None

    async def find(self, username: str) -> UserRecord:
        user = await self.users.by_canon(canon(username))
        if user is None:
            raise NotFound(N_("No account named %(username)r."), username=username)
        return user

    async def set_disabled(self, username: str, disabled: bool) -> UserRecord:
        user = await self.find(username)
        await self.users.set_disabled(user.id, disabled)
        if disabled:
            await self.sessions.end_all(user.id)
        self.audit.record("user_disabled" if disabled else "user_enabled", user.username_canon)
        return user

    async def delete(self, username: str) -> UserRecord:
        user = await self.find(username)
        await self.sessions.end_all(user.id)
        await self.users.delete(user.id)
        self.audit.record("user_deleted", user.username_canon)
        return user
