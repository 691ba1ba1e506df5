"""The audit log (SPEC section 15): the event vocabulary, who and where, and the batched writer.

A service says what happened in one line, `self.audit.record("sign_in", user.username_canon)`.
The client's address and browser come from `ORIGIN`, a context variable the web edge sets once
per request (and the CLI sets to "cli"), so no service signature carries them and a service
never sees a request.

`AuditLog.record` only appends to a list: no await, no disk write on the request. A background
task writes what piled up in one transaction a moment later (at most `FLUSH_SECONDS`), and
`close()` writes the rest on shutdown. So a `kill -9` may lose the last fraction of a second of
events; a sign-in never waits for the audit log, and a failing database never fails a sign-in.
The same task deletes events older than `keep_days` once an hour: retention needs no cron.
Never put a password, pre-hash, code or token in `details`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from signin.accounts.clock import Clock

log = logging.getLogger("signin.audit")

EventType = Literal[
    "sign_up",
    "sign_in",
    "sign_in_failed",
    "sign_in_locked",
    "two_factor_required",
    "sign_out",
    "session_ended",
    "password_changed",
    "password_reset_requested",
    "password_reset",
    "email_verified",
    "two_factor_enabled",
    "two_factor_disabled",
    "recovery_code_used",
    "passkey_added",
    "passkey_removed",
    "device_unlocked",
    "user_created",
    "user_disabled",
    "user_enabled",
    "groups_changed",
    "user_deleted",
    "lock_cleared",
    "invite_created",
    "access_denied",
    "oidc_consent_given",
    "oidc_consent_revoked",
    "oidc_token_issued",
    "oidc_token_refreshed",
    "oidc_token_revoked",
    "oidc_request_refused",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
Detail = str | int | bool | None

FLUSH_SECONDS = 0.25
PRUNE_EVERY = 3600.0
MAX_PENDING = 20_000  # the database is down: past this many unwritten events, the oldest go
USERNAME_MAX = 128
USER_AGENT_MAX = 512
DETAIL_MAX = 200


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, and who acted when it is not the account's owner."""

    ip: str | None = None
    user_agent: str | None = None
    actor: str | None = None  # "cli", or the canon name of an administrator

    def origin(self) -> Origin:
        return self


class OriginSource(Protocol):
    """An `Origin`, or what makes one when an event is recorded (the web edge reads the
    request's headers only then, so a request that records nothing pays nothing)."""

    def origin(self) -> Origin: ...


NOWHERE = Origin()  # frozen: safe to share as the default
ORIGIN: ContextVar[OriginSource] = ContextVar("signin_audit_origin", default=NOWHERE)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: float
    type: str
    username: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Detail] = field(default_factory=dict)
    id: int | None = None  # given by the store


@dataclass(frozen=True, slots=True)
class AuditQuery:
    username: str | None = None
    types: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    limit: int = 100


class AuditStore(Protocol):
    async def append(self, events: Sequence[AuditEvent]) -> None: ...
    async def query(self, query: AuditQuery) -> list[AuditEvent]:
        """Matching events, newest first, at most `query.limit`."""
        ...

    async def hourly(self, types: Sequence[str], since: float) -> dict[tuple[str, int], int]:
        """Counts of events of `types` since `since`, by (type, hour as epoch // 3600)."""
        ...

    async def prune(self, before: float) -> int: ...


class Recorder(Protocol):
    def record(self, type: EventType, username: str | None, /, **details: Detail) -> None: ...


class NoAudit:
    """The recorder for services built without an audit log (unit tests of other concerns)."""

    def record(self, type: EventType, username: str | None, /, **details: Detail) -> None:
        return None


NO_AUDIT: Recorder = NoAudit()


def _cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None


class AuditLog:
    def __init__(
        self,
        store: AuditStore,
        *,
        keep_days: int,
        clock: Clock,
        flush_seconds: float = FLUSH_SECONDS,
        listener: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.keep_days = keep_days
        self.clock = clock
        self.flush_seconds = flush_seconds
        self.listener = listener  # metrics count some events as they happen
        self._pending: list[AuditEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._hourly: asyncio.Task[None] | None = None
        self._next_prune = 0.0
        self._lock = asyncio.Lock()

    def record(self, type: EventType, username: str | None, /, **details: Detail) -> None:
        if self.listener is not None:
            self.listener(type)
        origin = ORIGIN.get().origin()
        if origin.actor is not None and "by" not in details:
            details["by"] = origin.actor
        cleaned = {
            key: value[:DETAIL_MAX] if isinstance(value, str) else value
            for key, value in details.items()
        }
        self._pending.append(
            AuditEvent(
                at=self.clock(),
                type=type,
                username=_cut(username, USERNAME_MAX),
                ip=_cut(origin.ip, 64),
                user_agent=_cut(origin.user_agent, USER_AGENT_MAX),
                details=cleaned,
            )
        )
        if len(self._pending) > MAX_PENDING:
            del self._pending[: len(self._pending) - MAX_PENDING]
        if self._task is None:
            # No loop (a synchronous caller): the events wait for the next flush.
            with contextlib.suppress(RuntimeError):
                self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        try:
            await asyncio.sleep(self.flush_seconds)
        finally:
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write every pending event now (and prune when an hour has passed)."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await self.store.append(batch)
                except BaseException as exc:  # the database is away: keep them for next time
                    self._pending[:0] = batch
                    if not isinstance(exc, Exception):
                        raise  # cancelled (shutdown): close() writes them
                    log.warning("audit events not written (%d kept): %s", len(batch), exc)
                    return
            now = self.clock()
            if now >= self._next_prune:
                self._next_prune = now + PRUNE_EVERY
                await self.prune(now)

    async def prune(self, now: float) -> int:
        try:
            removed = await self.store.prune(now - self.keep_days * 86400)
        except Exception as exc:
            log.warning("audit log not pruned: %s", exc)
            return 0
        if removed:
            log.info("audit log: %d events older than %d days deleted", removed, self.keep_days)
        return removed

    async def query(self, query: AuditQuery) -> list[AuditEvent]:
        """What the log holds, including what this process has not written yet."""
        await self.flush()
        return await self.store.query(query)

    async def hourly(self, types: Sequence[str], since: float) -> dict[tuple[str, int], int]:
        await self.flush()
        return await self.store.hourly(types, since)

    def start(self) -> None:
        """Prune once an hour even when nothing is written (the server's lifespan calls this)."""
        if self._hourly is None:
            self._hourly = asyncio.get_running_loop().create_task(self._every_hour())

    async def _every_hour(self) -> None:
        while True:
            # Shielded: close() cancels this task, and a write or prune under way finishes (close
            # waits for it on the lock) instead of being cut off with its driver thread still
            # running, which would answer into a loop that has closed.
            await asyncio.shield(self.flush())
            await asyncio.sleep(PRUNE_EVERY)

    async def close(self) -> None:
        for task in (self._hourly, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._hourly = None
        self._task = None
        await self.flush()
