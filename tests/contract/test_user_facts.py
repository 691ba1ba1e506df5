"""The user facts that Redis keeps for session checks (stores/redis/users.py): a check reads
SQL only when they are missing, and no write to a user can leave old facts behind."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signin.stores.base import StoreUnavailable, UserRecord
from signin.stores.redis import RedisStores, connect_redis_stores
from signin.stores.redis.users import InvalidatingUserStore, UserFacts
from signin.stores.sql.engine import create_engine
from signin.stores.sql.users import SqlUserStore
from tests.backends import need_redis
from tests.contract.conftest import _drop_prefix
from tests.contract.test_session_store import T0, digest, record
from tests.contract.test_user_store import new_user
from tests.support import free_port

pytestmark = pytest.mark.redis


class CountingUsers(SqlUserStore):
    """The SQL user store, counting the reads by id that session checks make."""

    by_id_calls = 0

    async def by_id(self, user_id: int) -> UserRecord | None:
        self.by_id_calls += 1
        return await super().by_id(user_id)


@pytest.fixture
async def stores(
    sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[tuple[RedisStores, CountingUsers]]:
    shutil.copyfile(sqlite_template, tmp_path / "facts.db")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'facts.db'}")
    sql = CountingUsers(engine)
    redis = connect_redis_stores(
        need_redis(), users=sql, prefix=f"signin-test-{secrets.token_hex(6)}:"
    )
    try:
        yield redis, sql
    finally:
        await _drop_prefix(redis)
        await engine.dispose()


async def test_checks_read_sql_once_until_the_user_is_written(
    stores: tuple[RedisStores, CountingUsers],
) -> None:
    redis, sql = stores
    alice = await redis.users.create(new_user("Alice", "alice@example.org"))
    await redis.sessions.create(digest("t1"), record("s1", alice))
    await redis.sessions.create(digest("t2"), record("s2", alice))
    for token in ("t1", "t2", "t1", "t2", "t1"):
        found = await redis.sessions.lookup(digest(token))
        assert found is not None
        assert (found.username, found.email, found.email_verified) == (
            "Alice",
            "alice@example.org",
            False,
        )
    assert sql.by_id_calls == 1  # the facts are the user's, shared by all its sessions

    assert await redis.users.set_email_verified(alice.id, "alice@example.org", T0)
    found = await redis.sessions.lookup(digest("t2"))
    assert found is not None
    assert found.email_verified is True
    assert sql.by_id_calls == 2
    await redis.users.set_password_hash(alice.id, "$argon2id$new", T0 + 1)
    await redis.sessions.lookup(digest("t1"))
    assert sql.by_id_calls == 3
    # A re-hash at a new cost changes nothing a check reads: the facts stay.
    await redis.users.set_password_hash(alice.id, "$argon2id$cost", T0, rehash_only=True)
    await redis.sessions.lookup(digest("t1"))
    assert sql.by_id_calls == 3


async def test_group_change_shows_at_the_next_check(
    stores: tuple[RedisStores, CountingUsers],
) -> None:
    redis, sql = stores
    alice = await redis.users.create(new_user("alice"))
    await redis.sessions.create(digest("t1"), record("s1", alice))
    found = await redis.sessions.lookup(digest("t1"))
    assert found is not None
    assert found.groups == ()
    assert await redis.users.change_groups(alice.id, ["staff", "ops"], []) == ("ops", "staff")
    found = await redis.sessions.lookup(digest("t1"))
    assert found is not None
    assert found.groups == ("ops", "staff")
    assert await redis.users.change_groups(alice.id, [], ["ops"]) == ("staff",)
    for _ in range(2):  # read from SQL once, then from the facts
        found = await redis.sessions.lookup(digest("t1"))
        assert found is not None
        assert found.groups == ("staff",)
    assert sql.by_id_calls == 3


async def test_write_during_a_checks_sql_read_leaves_no_old_facts(
    stores: tuple[RedisStores, CountingUsers], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check reads the user from SQL; before it puts the facts back, the user is disabled.
    That check answers with what it read, but the facts it would keep are refused, so the
    very next check sees the account disabled."""
    redis, _sql = stores
    alice = await redis.users.create(new_user("alice"))
    await redis.sessions.create(digest("t1"), record("s1", alice))
    read_before_write = SqlUserStore.by_id

    async def by_id_then_disable(self: SqlUserStore, user_id: int) -> UserRecord | None:
        user = await read_before_write(self, user_id)
        monkeypatch.setattr(CountingUsers, "by_id", read_before_write)
        await redis.users.set_disabled(user_id, True)  # another instance, meanwhile
        return user

    monkeypatch.setattr(CountingUsers, "by_id", by_id_then_disable)
    racing = await redis.sessions.lookup(digest("t1"))
    assert racing is not None
    assert racing.disabled is False
    after = await redis.sessions.lookup(digest("t1"))
    assert after is not None
    assert after.disabled is True


async def test_fill_with_an_old_generation_keeps_nothing(
    stores: tuple[RedisStores, CountingUsers],
) -> None:
    redis, sql = stores
    alice = await redis.users.create(new_user("alice"))
    facts = redis.sessions.facts
    await facts.fill(alice, generation="")
    await redis.sessions.create(digest("t1"), record("s1", alice))
    await redis.sessions.lookup(digest("t1"))
    assert sql.by_id_calls == 0  # filled from the right (still unwritten) generation
    await facts.invalidate(alice.id)  # generation 1
    await facts.fill(alice, generation="")  # a fill that began before that write
    await redis.sessions.lookup(digest("t1"))
    assert sql.by_id_calls == 1


async def test_deleted_user_ends_its_session_on_the_next_check(
    stores: tuple[RedisStores, CountingUsers],
) -> None:
    redis, _ = stores
    alice = await redis.users.create(new_user("alice"))
    await redis.sessions.create(digest("t1"), record("s1", alice))
    assert await redis.sessions.lookup(digest("t1")) is not None  # facts kept
    assert await redis.users.delete(alice.id)
    assert await redis.sessions.lookup(digest("t1")) is None
    assert await redis.sessions.list_for_user(alice.id) == []


async def test_write_that_cannot_reach_redis_changes_nothing(
    stores: tuple[RedisStores, CountingUsers],
) -> None:
    """Facts that cannot be ended would outlive the write: the write is refused first."""
    redis, sql = stores
    alice = await redis.users.create(new_user("alice"))
    dead = connect_redis_stores(f"redis://127.0.0.1:{free_port()}/0", users=sql)
    try:
        assert isinstance(dead.users, InvalidatingUserStore)
        assert isinstance(dead.users.facts, UserFacts)
        with pytest.raises(StoreUnavailable):
            await dead.users.set_disabled(alice.id, True)
        with pytest.raises(StoreUnavailable):
            await dead.users.delete(alice.id)
        created = await dead.users.create(new_user("bob"))  # sign-up needs no Redis
    finally:
        await dead.close()
    user = await sql.by_id(alice.id)
    assert user is not None
    assert user.disabled is False
    assert await sql.by_canon(created.username_canon) is not None
