"""Redis adapters: sessions and fail-lock state shared by every instance (`SIGNIN_REDIS_URL`).

Accounts and one-time tokens stay in SQL; Redis holds what is hot and short-lived, and the facts
about each user that a session check needs (stores/redis/users.py): the user store handed back
here ends them on every write to a user. The calls made on every request (session checks,
sign-in scripts) share one multiplexed connection (stores/redis/mux.py); the rest use redis-py's
pool, with the same timeouts. The client is
tuned to fail fast rather than hang a request: 1 s to connect, 2 s per command, one retry on a
dropped connection (the first command after a Redis restart meets a dead pooled connection; the
retry reconnects, so the service resumes without a restart of its own).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from signin.stores.base import UserStore
from signin.stores.redis.common import RedisStore, unavailable_on_error
from signin.stores.redis.locks import RedisLockStore
from signin.stores.redis.mux import Multiplexer
from signin.stores.redis.sessions import RedisSessionStore
from signin.stores.redis.users import InvalidatingUserStore, UserFacts

DEFAULT_PREFIX = "signin:"
CONNECT_TIMEOUT = 1.0
COMMAND_TIMEOUT = 2.0
MAX_CONNECTIONS = 64

__all__ = [
    "RedisLockStore",
    "RedisSessionStore",
    "RedisStores",
    "connect_redis_stores",
    "forget_accounts",
]
# What Redis keeps about accounts: gone with them when the database is reset.
ACCOUNT_KEYS = ("session:", "user-sessions:", "user-facts:")


@dataclass(frozen=True)
class RedisStores:
    users: UserStore  # the SQL user store, each write also ending the user's facts in Redis
    facts: UserFacts  # what checks know of each user; `facts.changing` around other writes to it
    sessions: RedisSessionStore
    locks: RedisLockStore
    ping: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]


def make_client(url: str) -> Redis:
    """A pooled client; opens no connection until the first command.

    The pool is bounded and blocking: past `MAX_CONNECTIONS` busy connections a command waits
    (up to the command timeout) instead of opening ever more sockets under load.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        timeout=COMMAND_TIMEOUT,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=30,
        max_connections=MAX_CONNECTIONS,
        # A retried lock reservation may count one attempt twice: that errs on the locked side.
        retry=Retry(ExponentialBackoff(cap=0.25, base=0.05), 1),
    )
    return Redis.from_pool(pool)


def connect_redis_stores(
    url: str, *, users: UserStore, prefix: str = DEFAULT_PREFIX
) -> RedisStores:
    """The session and lock stores on the Redis at `url`, the user store to use beside them
    (`users`, keeping the facts in step), a health probe, and a closer."""
    client = make_client(url)
    mux = Multiplexer(url, connect_timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT)
    facts = UserFacts(mux, prefix=prefix)

    async def ping() -> None:
        with unavailable_on_error():
            await client.ping()

    async def close() -> None:
        await mux.close()
        await client.aclose()

    return RedisStores(
        users=InvalidatingUserStore(users, facts),
        facts=facts,
        sessions=RedisSessionStore(client, prefix=prefix, users=users, mux=mux, facts=facts),
        locks=RedisLockStore(client, prefix=prefix, mux=mux),
        ping=ping,
        close=close,
    )


async def forget_accounts(url: str, prefix: str = DEFAULT_PREFIX) -> int:
    """Delete every session and user fact (not the locks); the number of keys deleted.

    After `signin db reset` user ids start again from 1: a session or facts left behind would
    name whoever gets that id next.
    """
    client = make_client(url)
    store = RedisStore(client, prefix=prefix)
    deleted = 0
    try:
        with unavailable_on_error():
            for kind in ACCOUNT_KEYS:
                keys = [key async for key in store.scan_keys(prefix + kind)]
                for start in range(0, len(keys), 500):
                    deleted += int(await client.delete(*keys[start : start + 500]))
    finally:
        await client.aclose()
    return deleted
