"""The multiplexed Redis connection of the hot path (stores/redis/mux.py) on a real Redis:
replies reach their own callers, faults are `StoreUnavailable`, and it recovers by itself."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from signin.stores.base import StoreUnavailable
from signin.stores.redis.mux import Multiplexer
from tests.backends import RedisServer, need_redis
from tests.support import free_port, need

pytestmark = pytest.mark.redis


@pytest.fixture
async def mux() -> AsyncIterator[Multiplexer]:
    client = Multiplexer(need_redis(), connect_timeout=1, command_timeout=2)
    yield client
    await client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    need(server.binary is not None, "redis-server")
    try:
        yield server.start()
    finally:
        server.stop()


def key(stem: str) -> str:
    return f"signin-test-mux-{secrets.token_hex(6)}:{stem}"


async def test_concurrent_calls_each_get_their_own_reply(mux: Multiplexer) -> None:
    """300 commands in flight at once on one connection: each caller gets its own answer."""
    replies = await asyncio.gather(*(mux.call("ECHO", f"reply {i}") for i in range(300)))
    assert replies == [f"reply {i}" for i in range(300)]
    counter = key("counter")
    counts = await asyncio.gather(*(mux.call("INCR", counter) for _ in range(50)))
    assert sorted(counts) == list(range(1, 51))
    assert await mux.call("DEL", counter) == 1


async def test_database_number_of_the_url_is_used(mux: Multiplexer) -> None:
    """A key written through the mux is found by a plain client on the URL's database."""
    from redis.asyncio import Redis

    name = key("db")
    assert await mux.call("SET", name, "here") == "OK"
    plain = Redis.from_url(need_redis(), decode_responses=True)
    try:
        assert await plain.get(name) == "here"
        await plain.delete(name)
    finally:
        await plain.aclose()


async def test_script_is_loaded_again_when_redis_forgot_it(mux: Multiplexer) -> None:
    script = mux.script(f"return ARGV[1] .. '{secrets.token_hex(4)}-' .. KEYS[1]")
    first = await script(["k"], ["a"])
    # `SCRIPT FLUSH` on the shared test server would drop other tests' scripts: a fresh
    # script's SHA-1 is unknown to Redis the first time, which is the same case.
    assert first.startswith("a")
    assert first.endswith("-k")
    assert await script(["k"], ["a"]) == first  # now by EVALSHA


async def test_reply_error_is_store_unavailable_and_the_next_call_works(mux: Multiplexer) -> None:
    name = key("text")
    await mux.call("SET", name, "not a hash")
    with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
        await mux.call("HGETALL", name)
    assert await mux.call("GET", name) == "not a hash"
    await mux.call("DEL", name)


async def test_cancelled_call_does_not_shift_the_replies(mux: Multiplexer) -> None:
    """A caller that gives up leaves its reply to be dropped, not handed to the next caller."""
    blocked = asyncio.ensure_future(mux.call("BLPOP", key("empty-list"), "1"))
    await asyncio.sleep(0.2)
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert await mux.call("ECHO", "mine") == "mine"  # queued behind BLPOP's nil reply


async def test_no_reply_in_time_is_store_unavailable_then_it_reconnects() -> None:
    mux = Multiplexer(need_redis(), connect_timeout=1, command_timeout=0.4)
    try:
        with pytest.raises(StoreUnavailable, match="no reply from Redis"):
            await mux.call("BLPOP", key("empty-list"), "3")
        assert await mux.call("ECHO", "again") == "again"
    finally:
        await mux.close()


async def test_nothing_listening_is_store_unavailable() -> None:
    mux = Multiplexer(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=1, command_timeout=2)
    try:
        for _ in range(2):  # each call tries again, none hangs
            with pytest.raises(StoreUnavailable):
                await mux.call("PING")
    finally:
        await mux.close()


@pytest.mark.slow
async def test_redis_restart_is_survived_without_a_new_client(own_redis: RedisServer) -> None:
    mux = Multiplexer(own_redis.url, connect_timeout=1, command_timeout=2)
    try:
        assert await mux.call("SET", "k", "before") == "OK"
        own_redis.stop()
        with pytest.raises(StoreUnavailable):
            await mux.call("GET", "k")
        own_redis.start()
        # The old connection is dead; the call reconnects (the restarted Redis kept nothing).
        assert await mux.call("GET", "k") is None
        script = mux.script("return 'loaded ' .. ARGV[1]")
        assert await script([], ["again"]) == "loaded again"
    finally:
        await mux.close()


@pytest.mark.slow
async def test_password_in_the_url_is_sent(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    need(server.binary is not None, "redis-server")
    server.start()
    try:
        password = secrets.token_hex(8)
        setup = Multiplexer(server.url, connect_timeout=1, command_timeout=2)
        await setup.call("CONFIG", "SET", "requirepass", password)
        await setup.close()
        url = f"redis://:{password}@127.0.0.1:{server.port}/2"
        with_password = Multiplexer(url, connect_timeout=1, command_timeout=2)
        try:
            assert await with_password.call("SET", "k", "v") == "OK"
            assert " db=2 " in await with_password.call("CLIENT", "INFO")
        finally:
            await with_password.close()
        without = Multiplexer(server.url, connect_timeout=1, command_timeout=2)
        try:
            with pytest.raises(StoreUnavailable, match="NOAUTH"):
                await without.call("GET", "k")
        finally:
            await without.close()
    finally:
        server.stop()
