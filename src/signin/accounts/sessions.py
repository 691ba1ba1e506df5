"""Sessions (SPEC section 7): 256-bit random tokens, stored only as their SHA-256.

A session ends at the first of: its absolute expiry, `idle_seconds` without use (non-remembered
sessions), sign-out, a password change or reset, or the user being disabled or deleted.
`last_seen` is written at most once a minute (more often only when the idle limit is short).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.usernames import canon
from signin.stores.base import SessionRecord, SessionStore, SessionUser

TOUCH_EVERY = 60.0
TOUCHED_MAX = 10_000  # remembered recent touches; past this, the stale ones are dropped
PURGE_EVERY = 300.0
USER_AGENT_MAX = 512


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class IssuedSession:
    token: str
    record: SessionRecord


class SessionManager:
    def __init__(
        self,
        store: SessionStore,
        *,
        idle_seconds: int,
        max_seconds: int,
        remember_seconds: int,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.remember_seconds = remember_seconds
        self.clock = clock
        self.audit = audit
        self._next_purge = 0.0
        # digest -> when this process last wrote its last_seen. Concurrent requests with one
        # cookie all read the old last_seen; without this, each of them queued its own write.
        self._touched: dict[bytes, float] = {}
        # Run after a session ends, with the user's id and the session's (None: every session of
        # the user ended); the OIDC provider revokes tokens and tells the apps (back-channel).
        self.after_end: list[Callable[[int, str | None], Awaitable[None]]] = []

    async def issue(
        self,
        user_id: int,
        *,
        remember: bool,
        ip: str | None,
        user_agent: str | None,
        replacing: str | None = None,
        two_factor: bool = False,
    ) -> IssuedSession:
        """A new session; the one `replacing` names (a token presented before) ends first.

        A sign-in never reuses a token the browser held before it (session fixation).
        `two_factor` records that a second factor was proven to make it (SPEC 13).
        """
        if replacing:
            await self.end(replacing)
        now = self.clock()
        token = secrets.token_urlsafe(32)
        record = SessionRecord(
            # Hex: an id is typed on the command line (`signin sessions end ID`), where one
            # that began with "-" would be read as an option.
            id=secrets.token_hex(12),
            user_id=user_id,
            created_at=now,
            last_seen=now,
            expires_at=now + (self.remember_seconds if remember else self.max_seconds),
            idle_seconds=None if remember else self.idle_seconds,
            remember=remember,
            ip=ip,
            user_agent=(user_agent or "")[:USER_AGENT_MAX] or None,
            two_factor=two_factor,
        )
        await self.store.create(token_hash(token), record)
        await self._maybe_purge(now)
        return IssuedSession(token, record)

    async def resolve(self, token: str | None) -> SessionUser | None:
        """The live session for a cookie or bearer token, or None (expired ones are deleted)."""
        if not token or len(token) > 128:
            return None
        digest = token_hash(token)
        found = await self.store.lookup(digest)
        if found is None:
            return None
        now = self.clock()
        session = found.session
        idle = session.idle_seconds
        if (
            found.disabled
            or now >= session.expires_at
            or (idle is not None and now >= session.last_seen + idle)
        ):
            await self.store.delete(digest)
            return None
        touch_every = TOUCH_EVERY if idle is None else min(TOUCH_EVERY, idle / 4)
        if now - session.last_seen >= touch_every:
            await self._touch(digest, now, touch_every)
        return found

    async def _touch(self, digest: bytes, now: float, touch_every: float) -> None:
        """Write last_seen once per interval even when many requests see it stale at once.

        Under a sign-in flood the SQLite write lock is busy, and a burst of identical touches
        (one per request in flight) held every pooled connection for up to half a second,
        which stalled session checks once a minute (bench/RESULTS.md, W3).
        """
        if now - self._touched.get(digest, -math.inf) < touch_every:
            return
        if len(self._touched) >= TOUCHED_MAX:
            self._touched = {d: t for d, t in self._touched.items() if now - t < touch_every}
            if len(self._touched) >= TOUCHED_MAX:
                self._touched.clear()
        self._touched[digest] = now
        try:
            await self.store.touch(digest, now)
        except BaseException:
            self._touched.pop(digest, None)  # not written: the next request tries again
            raise

    def expires_at(self, session: SessionRecord) -> float:
        """When the session ends if unused from now on."""
        if session.idle_seconds is None:
            return session.expires_at
        return min(session.expires_at, max(session.last_seen, self.clock()) + session.idle_seconds)

    async def end(self, token: str) -> None:
        """Sign-out: the session is gone from the store, and the sign-out audited."""
        digest = token_hash(token) if len(token) <= 128 else None
        found = await self.store.lookup(digest) if digest is not None else None
        if digest is not None:
            await self.store.delete(digest)
        if found is not None:
            self.audit.record("sign_out", canon(found.username))
            await self._ended(found.session.user_id, found.session.id)

    async def end_by_id(self, user_id: int, session_id: str) -> bool:
        ended = await self.store.delete_by_id(user_id, session_id)
        if ended:
            await self._ended(user_id, session_id)
        return ended

    async def _ended(self, user_id: int, session_id: str | None) -> None:
        for hook in self.after_end:
            await hook(user_id, session_id)

    async def end_all(self, user_id: int, *, keep_id: str | None = None) -> int:
        ended = await self.store.delete_for_user(user_id, keep_id=keep_id)
        await self._ended(user_id, None)
        return ended

    async def list_for_user(self, user_id: int) -> list[SessionRecord]:
        now = self.clock()
        return [
            record
            for record in await self.store.list_for_user(user_id)
            if now < record.expires_at
            and (record.idle_seconds is None or now < record.last_seen + record.idle_seconds)
        ]

    async def _maybe_purge(self, now: float) -> None:
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            await self.store.purge_expired(now)
