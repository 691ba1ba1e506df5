"""The store protocols and the plain records they exchange. Policy lives in `accounts/`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class StoreUnavailable(Exception):
    """The database or Redis did not answer."""


class DuplicateUser(Exception):
    """A unique field is taken; `field` is "username" or "email"."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} already taken")
        self.field = field


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    username_canon: str
    email: str | None
    email_verified: bool
    password_hash: str
    created_at: float
    password_changed_at: float
    disabled: bool
    groups: tuple[str, ...] = ()  # sorted group names (SPEC section 12)
    language: str | None = None  # the catalogue code last used on the site: its mails' language


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    username_canon: str
    email: str | None
    email_canon: str | None
    password_hash: str
    created_at: float
    # UTS #39 skeleton (accounts/lookalikes.py): unique like the canon, so look-alikes collide.
    username_skeleton: str | None = None
    groups: tuple[str, ...] = ()
    language: str | None = None  # the language the sign-up page was shown in


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    user_id: int
    created_at: float
    last_seen: float
    expires_at: float
    idle_seconds: int | None
    remember: bool
    ip: str | None
    user_agent: str | None
    two_factor: bool = False  # made with a second factor (SPEC 13), not by a password alone


@dataclass(frozen=True, slots=True)
class SessionUser:
    """What every authenticated request needs, read in one indexed lookup."""

    session: SessionRecord
    username: str
    email: str | None
    email_verified: bool
    disabled: bool
    # The user's groups, read with the user on every lookup (never cached past the request;
    # on Redis kept in the user's facts, which every change to the user ends first:
    # stores/redis/users.py): forward-auth rules decide on them, and a change counts from the
    # next check.
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LockRecord:
    key: str
    failures: int
    last_attempt: float


class UserStore(Protocol):
    async def create(self, user: NewUser) -> UserRecord: ...
    async def by_id(self, user_id: int) -> UserRecord | None: ...
    async def by_canon(self, username_canon: str) -> UserRecord | None: ...
    async def by_email(self, email_canon: str) -> UserRecord | None: ...
    async def skeleton_taken(self, username_skeleton: str) -> bool: ...
    async def set_password_hash(
        self, user_id: int, password_hash: str, changed_at: float, *, rehash_only: bool = False
    ) -> None: ...
    async def set_disabled(self, user_id: int, disabled: bool) -> None: ...
    async def set_language(self, user_id: int, language: str) -> None: ...
    async def set_email_verified(self, user_id: int, email: str, now: float) -> bool: ...
    async def delete(self, user_id: int) -> bool: ...
    async def search(self, text: str, limit: int = 100) -> list[UserRecord]:
        """Users whose canon name or email contains `text` (canon already), ordered by name."""
        ...

    async def list(self, limit: int = 1000, offset: int = 0) -> list[UserRecord]: ...
    async def change_groups(
        self, user_id: int, add: Sequence[str], remove: Sequence[str]
    ) -> tuple[str, ...]:
        """Add then remove group names in one write; return the groups after it."""
        ...


class SessionStore(Protocol):
    async def create(self, token_hash: bytes, record: SessionRecord) -> None: ...
    async def lookup(self, token_hash: bytes) -> SessionUser | None: ...
    async def touch(self, token_hash: bytes, now: float) -> None: ...
    async def delete(self, token_hash: bytes) -> None: ...
    async def delete_by_id(self, user_id: int, session_id: str) -> bool: ...
    async def delete_for_user(self, user_id: int, *, keep_id: str | None = None) -> int: ...
    async def list_for_user(self, user_id: int) -> list[SessionRecord]: ...
    async def list_all(self) -> list[SessionRecord]: ...
    async def purge_expired(self, now: float) -> int: ...


class LockStore(Protocol):
    async def reserve(self, key: str, now: float, window: int) -> int:
        """Count one attempt atomically; return the failures including it.

        A key whose last attempt is `window` seconds old or more starts again from 1.
        """
        ...

    async def reserve_all(
        self, keys: Sequence[tuple[str, int]], now: float, window: int
    ) -> list[int]:
        """Count one attempt on each `(key, limit)` in order, as one atomic write.

        Stops after the first key whose new count passes its limit, so the keys after it are
        not touched (a sign-in refused for its IP does not count on the username). Returns the
        counts made, in order: shorter than `keys` exactly when the last one passed its limit.
        One transaction (one script on Redis) instead of one per key: each sign-in attempt pays
        for one round trip to the store, not two. Each count is that of `reserve`.
        """
        ...

    async def settle(self, *, release: Sequence[str] = (), clear: Sequence[str] = ()) -> None:
        """Take back one attempt on each `release` key (never below 0), then delete every
        `clear` key, as one atomic write: what a checked or abandoned sign-in leaves behind.

        Rows are written in that order (`release` keys first, each in the order given), so a
        caller that lists its keys in the order it reserved them never makes two transactions
        wait on each other's rows in a circle (PostgreSQL would abort one as a deadlock).
        """
        ...

    async def clear(self, key: str) -> bool: ...
    async def release(self, key: str) -> None:
        """Take back one reserved attempt (a success must not count against a client IP)."""
        ...

    async def get(self, key: str, now: float, window: int) -> LockRecord | None: ...
    async def list(self, now: float, window: int) -> list[LockRecord]: ...
    async def purge(self, now: float, window: int) -> int: ...


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A one-time token (reset or verification link), stored by the SHA-256 of its value."""

    token_hash: bytes
    purpose: str
    user_id: int
    stamp: str
    created_at: float
    expires_at: float
    used_at: float | None


class TokenStore(Protocol):
    async def add(self, record: TokenRecord) -> None: ...
    async def get(self, token_hash: bytes) -> TokenRecord | None: ...
    async def use(self, token_hash: bytes, purpose: str, now: float) -> bool:
        """Mark an unused, unexpired token of `purpose` used, atomically; False if it was not."""
        ...

    async def purge(self, before: float) -> int:
        """Delete tokens that expired before `before`."""
        ...


@dataclass(frozen=True, slots=True)
class PasskeyRecord:
    """A WebAuthn credential of one user (SPEC section 14)."""

    id: int
    user_id: int
    credential_id: bytes
    public_key: bytes
    sign_count: int
    user_handle: bytes
    name: str
    transports: tuple[str, ...]
    created_at: float
    last_used_at: float | None


class DuplicatePasskey(Exception):
    """That credential id is registered already (to this or another account)."""


class PasskeyStore(Protocol):
    async def add(
        self,
        *,
        user_id: int,
        credential_id: bytes,
        public_key: bytes,
        sign_count: int,
        user_handle: bytes,
        name: str,
        transports: tuple[str, ...],
        now: float,
    ) -> PasskeyRecord:
        """Store a new credential; `DuplicatePasskey` when its id is taken."""
        ...

    async def by_credential_id(self, credential_id: bytes) -> PasskeyRecord | None: ...
    async def list_for_user(self, user_id: int) -> list[PasskeyRecord]:
        """The user's passkeys, oldest first."""
        ...

    async def user_handle(self, user_id: int) -> bytes | None:
        """The WebAuthn user id the user's passkeys share, None before the first one."""
        ...

    async def record_use(
        self, passkey_id: int, seen_count: int, new_count: int, now: float
    ) -> bool:
        """Set the counter and `last_used_at`, atomically, only if the counter is still
        `seen_count`: of two assertions checked against one counter value, one wins."""
        ...

    async def delete(self, user_id: int, passkey_id: int) -> bool:
        """Remove one passkey of this user; False when the user has no such passkey."""
        ...


class ChallengeStore(Protocol):
    async def consume(self, challenge_id: str, expires_at: float) -> bool:
        """Mark a challenge answered, atomically; False when it was answered before."""
        ...

    async def purge(self, now: float) -> int:
        """Forget challenges that expired before `now`."""
        ...


@dataclass(frozen=True, slots=True)
class InviteRecord:
    """A sign-up invite (SPEC section 12), stored by the SHA-256 of its token."""

    id: str
    email: str | None
    groups: tuple[str, ...]
    max_uses: int
    uses: int
    created_at: float
    expires_at: float
    revoked_at: float | None


class InviteStore(Protocol):
    async def add(
        self, token_hash: bytes, record: InviteRecord, email_canon: str | None
    ) -> None: ...
    async def get(self, token_hash: bytes) -> tuple[InviteRecord, str | None] | None:
        """The invite and its canonical email, whatever its state."""
        ...

    async def list(self) -> list[InviteRecord]: ...
    async def revoke(self, invite_id: str, now: float) -> bool: ...
    async def create_user(self, token_hash: bytes, user: NewUser, now: float) -> UserRecord | None:
        """Use the invite once and create `user` with its groups, in one transaction.

        None (and nothing written) when the invite is unknown, revoked, expired or used up;
        `DuplicateUser` (and the use taken back) when the name or address is taken.
        """
        ...


@dataclass(frozen=True, slots=True)
class TotpRecord:
    """A user's TOTP factor; `secret` is sealed (encrypted), `confirmed_at` None while enrolling."""

    user_id: int
    secret: bytes
    created_at: float
    confirmed_at: float | None
    last_step: int | None


class FactorStore(Protocol):
    """TOTP factors and recovery codes (SPEC 13). Every "use" is one atomic conditional write."""

    async def totp(self, user_id: int) -> TotpRecord | None: ...
    async def begin_totp(self, user_id: int, secret: bytes, now: float) -> None:
        """Store an unconfirmed factor, replacing an unconfirmed one (never a confirmed one)."""
        ...

    async def confirm_totp(
        self, user_id: int, step: int, now: float, code_hashes: Sequence[bytes]
    ) -> bool:
        """Confirm an unconfirmed factor at `step`, with new recovery codes, in one transaction."""
        ...

    async def use_step(self, user_id: int, step: int) -> bool:
        """Record `step` as used when it is newer than the last one used; False otherwise."""
        ...

    async def reseal_totp(self, user_id: int, secret: bytes) -> None:
        """Store the same secret sealed again (under the current key, after a rotation)."""
        ...

    async def replace_recovery(
        self, user_id: int, code_hashes: Sequence[bytes], now: float
    ) -> None: ...

    async def use_recovery(self, user_id: int, code_hashes: Sequence[bytes], now: float) -> bool:
        """Mark an unused code whose hash is one of `code_hashes` used; False when none was."""
        ...

    async def recovery_left(self, user_id: int) -> int: ...
    async def remove(self, user_id: int) -> bool:
        """Delete the factor and every recovery code; False when there was no factor."""
        ...
