"""One-time tokens for reset, verification and unlock links (STYLE 9: tied to state, used once).

A token is 256 random bits (`secrets.token_urlsafe(32)`); only its SHA-256 is stored, with its
purpose, its user, an expiry and a *stamp*: a digest of the account state the token was made
for. A reset token's stamp covers the password hash and change time, so any password change
(reset, account page, a re-hash) kills every outstanding reset link; a verification token's stamp
covers the address, so a link for an old address never confirms a new one. A token is
refused when made for another purpose or, where the caller knows who should be acting, for
another user; such a refusal does not use it up.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from signin.accounts.clock import Clock
from signin.accounts.errors import TokenExpired, TokenForeign, TokenInvalid, TokenStale, TokenUsed
from signin.stores.base import TokenRecord, TokenStore, UserRecord, UserStore

Purpose = Literal["reset", "verify", "two-factor", "unlock"]
MAX_TOKEN_LENGTH = 128
PURGE_EVERY = 3600.0
KEEP_EXPIRED = 86400.0  # expired rows stay a day, so a late click still says "expired"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def stamp_for(user: UserRecord, purpose: Purpose) -> str:
    if purpose == "reset":
        state = (
            f"reset|{user.id}|{user.password_hash}|{float(user.password_changed_at)!r}"
            f"|{(user.email or '').casefold()}"
        )
    elif purpose == "two-factor":
        # A pending second step dies with a password change, like a reset link.
        state = f"two-factor|{user.id}|{user.password_hash}|{float(user.password_changed_at)!r}"
    elif purpose == "unlock":
        # An unlock link (SPEC 5a) only vouches for a browser of this account: no state to tie.
        state = f"unlock|{user.id}|{user.username_canon}"
    else:
        state = f"verify|{user.id}|{(user.email or '').casefold()}"
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Redeemable:
    """A token that passed every check, and the user it belongs to."""

    token_hash: bytes
    user: UserRecord
    expires_at: float


class OneTimeTokens:
    def __init__(self, store: TokenStore, users: UserStore, *, clock: Clock) -> None:
        self.store = store
        self.users = users
        self.clock = clock
        self._next_purge = 0.0

    async def issue(self, user: UserRecord, purpose: Purpose, lifetime: int) -> str:
        now = self.clock()
        await self._maybe_purge(now)
        token = secrets.token_urlsafe(32)
        await self.store.add(
            TokenRecord(
                token_hash=token_hash(token),
                purpose=purpose,
                user_id=user.id,
                stamp=stamp_for(user, purpose),
                created_at=now,
                expires_at=now + lifetime,
                used_at=None,
            )
        )
        return token

    async def check(
        self, token: str, purpose: Purpose, *, user_id: int | None = None
    ) -> Redeemable:
        """Validate without using it up (opening a link, showing the form); raise otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenInvalid()
        digest = token_hash(token)
        record = await self.store.get(digest)
        if record is None:
            raise TokenInvalid()
        if record.purpose != purpose:
            raise TokenForeign()
        if record.used_at is not None:
            raise TokenUsed()
        if self.clock() >= record.expires_at:
            raise TokenExpired(record.expires_at)
        if user_id is not None and user_id != record.user_id:
            raise TokenForeign()
        user = await self.users.by_id(record.user_id)
        if user is None or user.disabled:
            raise TokenInvalid()
        if not secrets.compare_digest(record.stamp, stamp_for(user, purpose)):
            raise TokenStale()
        return Redeemable(digest, user, record.expires_at)

    async def redeem(
        self, token: str, purpose: Purpose, *, user_id: int | None = None
    ) -> UserRecord:
        """Check and use up the token atomically; of two concurrent redemptions one wins."""
        found = await self.check(token, purpose, user_id=user_id)
        if not await self.store.use(found.token_hash, purpose, self.clock()):
            raise TokenUsed()
        return found.user

    async def _maybe_purge(self, now: float) -> None:
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            await self.store.purge(now - KEEP_EXPIRED)
