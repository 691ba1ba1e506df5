"""Shared plumbing for the Redis stores: key names, scans, and Redis faults as `StoreUnavailable`.

Every Redis error becomes `StoreUnavailable`, which the web layer answers with 503: a Redis that
is down, restarting, out of memory or read-only must never produce a 500, and above all never a
wrong "signed in". The client reconnects by itself, so the service resumes when Redis is back.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from signin.stores.base import StoreUnavailable

SCAN_BATCH = 500
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


@contextmanager
def unavailable_on_error() -> Iterator[None]:
    """Any Redis fault as `StoreUnavailable` (the web layer logs it once and answers 503)."""
    try:
        yield
    except (redis_errors.RedisError, OSError) as exc:
        # Redis' messages name the server and the fault, never the command's arguments
        # (which hold usernames and token hashes).
        lines = str(exc).splitlines()
        reason = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
        raise StoreUnavailable(f"redis: {reason}") from exc


class RedisStore:
    """Base of the Redis stores: one client (a connection pool) and a key prefix."""

    def __init__(self, client: Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    async def scan_keys(self, key_prefix: str) -> AsyncIterator[str]:
        """Every key starting with `key_prefix`, in batches (never the blocking KEYS)."""
        pattern = _GLOB_SPECIAL.sub(r"\\\1", key_prefix) + "*"
        cursor: int = 0
        while True:
            cursor, keys = await self.client.scan(cursor, match=pattern, count=SCAN_BATCH)
            for key in keys:
                yield str(key)
            if cursor == 0:
                return


def text(value: bytes | str | None) -> str | None:
    """A reply as text (the client decodes replies; the type stubs do not know it)."""
    return value.decode() if isinstance(value, bytes) else value


def as_float(value: str | None, default: float = 0.0) -> float:
    return float(value) if value not in (None, "") else default


def as_text(value: float) -> str:
    """A float as text that converts back to the same float (repr round-trips exactly)."""
    return repr(float(value))
