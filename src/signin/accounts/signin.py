"""Sign-in: lock reservation first, then one argon2id verification (or a dummy one).

A device proof presented with the attempt (accounts/devices.py) decides which lock applies
before anything is counted; deciding costs HMACs only, never a hash or a store access.
"""

from __future__ import annotations

from collections.abc import Iterable

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.devices import Devices
from signin.accounts.errors import (
    AccountLocked,
    Busy,
    InvalidCredentials,
    InvalidInput,
    Problem,
)
from signin.accounts.legacy import is_marked, verify_legacy
from signin.accounts.lockout import Attempt, Lockout
from signin.accounts.policy import MAX_LENGTH
from signin.accounts.unlock import UnlockLinks
from signin.accounts.usernames import canon
from signin.crypto.passwords import HasherBusy, PasswordHasher
from signin.crypto.prehash import to_prehash
from signin.i18n import N_
from signin.stores.base import UserRecord, UserStore

# Lock keys are stored (fail_locks.key is VARCHAR(200) on PostgreSQL, where a longer value is an
# error, not a truncation). No real username's canon is longer than 96 characters (32 after NFKC,
# case folding at most triples them), so a longer input names nobody and is cut.
MAX_USERNAME_INPUT = 128


class Authenticator:
    def __init__(
        self,
        users: UserStore,
        hasher: PasswordHasher,
        lockout: Lockout,
        devices: Devices | None = None,
        unlock: UnlockLinks | None = None,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.users = users
        self.hasher = hasher
        self.lockout = lockout
        self.devices = devices
        self.unlock = unlock
        self.audit = audit

    async def sign_in(
        self,
        username: str,
        password: str,
        ip: str | None,
        proofs: Iterable[str | None] = (),
        *,
        during: str = "",
    ) -> UserRecord:
        """The user whose password this is; `InvalidCredentials`, `AccountLocked` or `Busy`.

        `proofs`: the device proofs the client presented (SPEC 5a); one valid for this
        username makes the attempt trusted. The caller gives a new proof on success.
        `during` names another flow that checks a password this way ("password_change"): its
        failures are audited with it, and its success is not a sign-in.
        """
        user, attempt = await self.check_password_attempt(
            username, password, ip, proofs, during=during
        )
        await self.lockout.succeeded(attempt)
        if not during:
            self.audit.record("sign_in", user.username_canon)
        return user

    async def check_password_attempt(
        self,
        username: str,
        password: str,
        ip: str | None,
        proofs: Iterable[str | None] = (),
        *,
        during: str = "",
    ) -> tuple[UserRecord, Attempt]:
        """As `sign_in`, but a right password leaves its attempt for the caller to settle
        (`Lockout.succeeded`, or `abandoned` while a second step is still due)."""
        key = canon(username.strip())[:MAX_USERNAME_INPUT]
        if not key:  # nothing typed: a mistake to point at, not an attempt on a name (no lock)
            raise InvalidInput([Problem("required", "username", N_("Enter your username."))])
        context = {"during": during} if during else {}
        try:
            attempt = await self.lockout.reserve(key, ip, self.device_key(key, proofs))
        except AccountLocked:
            self.audit.record("sign_in_locked", key, **context)
            raise
        try:
            user, ok = await self._check(username.strip(), key, password)
        except HasherBusy as exc:
            await self.lockout.abandoned(attempt)
            raise Busy(exc.retry_after) from None
        if not ok or user is None:
            self.audit.record("sign_in_failed", key, **context)
            if user is not None and self.unlock is not None and self.lockout.starts_lock(attempt):
                self.unlock.lock_started(user)
            raise InvalidCredentials()
        return user, attempt

    def device_key(self, username_canon: str, proofs: Iterable[str | None]) -> str | None:
        """The lock key of a valid device proof for this username (trusted), else None."""
        if self.devices is None:
            return None
        return self.devices.trusted_key(username_canon, proofs)

    async def _check(
        self, username: str, key: str, password: str
    ) -> tuple[UserRecord | None, bool]:
        """The account named (None: unknown or disabled) and whether the password is its own."""
        user = await self.users.by_canon(key) if key else None
        if user is None or user.disabled:
            await self.hasher.dummy_verify()
            return None, False
        if not password or len(password) > MAX_LENGTH * 4:
            await self.hasher.dummy_verify()
            return user, False
        if is_marked(user.password_hash):  # imported from the demo: accounts/legacy.py
            return user, await verify_legacy(self.users, self.hasher, user, password)
        ok, upgraded = await self.hasher.verify(user.password_hash, to_prehash(username, password))
        if not ok:
            return user, False
        if upgraded is not None:
            await self.users.set_password_hash(user.id, upgraded, 0.0, rehash_only=True)
        return user, True
