"""The SessionStore contract, run against SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import hashlib
import time

from signin.stores.base import SessionRecord, UserRecord
from tests.contract.conftest import Backend
from tests.contract.test_user_store import new_user

T0 = 1_800_000_000.25


def digest(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def record(
    session_id: str,
    user: UserRecord,
    *,
    at: float = T0,
    lasts: float = 3600.0,
    idle: int | None = 600,
    ip: str | None = "203.0.113.7",
    user_agent: str | None = "Mozilla/5.0 (X11; Linux) ü",
    two_factor: bool = False,
) -> SessionRecord:
    return SessionRecord(
        id=session_id,
        user_id=user.id,
        created_at=at,
        last_seen=at,
        expires_at=at + lasts,
        idle_seconds=idle,
        remember=idle is None,
        ip=ip,
        user_agent=user_agent,
        two_factor=two_factor,
    )


async def two_users(backend: Backend) -> tuple[UserRecord, UserRecord]:
    alice = await backend.users.create(new_user("Alice", "alice@example.org"))
    bob = await backend.users.create(new_user("bob"))
    return alice, bob


class TestSessionStoreContract:
    async def test_lookup_returns_session_and_account(self, sessions_backend: Backend) -> None:
        alice, _ = await two_users(sessions_backend)
        store = sessions_backend.store
        created = record("s1", alice)
        await store.create(digest("t1"), created)
        found = await store.lookup(digest("t1"))
        assert found is not None
        assert found.session == created
        assert (found.username, found.email) == ("Alice", "alice@example.org")
        assert (found.email_verified, found.disabled) == (False, False)

    async def test_optional_fields_round_trip_as_none(self, sessions_backend: Backend) -> None:
        alice, _ = await two_users(sessions_backend)
        remembered = record("s1", alice, idle=None, ip=None, user_agent=None, lasts=30 * 86400)
        await sessions_backend.store.create(digest("t1"), remembered)
        found = await sessions_backend.store.lookup(digest("t1"))
        assert found is not None
        assert found.session == remembered

    async def test_strength_round_trips(self, sessions_backend: Backend) -> None:
        """A session made with a second factor says so on lookup and in the user's list."""
        alice, _ = await two_users(sessions_backend)
        store = sessions_backend.store
        await store.create(digest("t1"), record("s1", alice, two_factor=True))
        await store.create(digest("t2"), record("s2", alice, at=T0 + 1))
        strong, weak = await store.lookup(digest("t1")), await store.lookup(digest("t2"))
        assert strong is not None
        assert strong.session.two_factor is True
        assert weak is not None
        assert weak.session.two_factor is False
        listed = {found.id: found.two_factor for found in await store.list_for_user(alice.id)}
        assert listed == {"s1": True, "s2": False}

    async def test_unknown_token_is_none(self, sessions_backend: Backend) -> None:
        alice, _ = await two_users(sessions_backend)
        await sessions_backend.store.create(digest("t1"), record("s1", alice))
        assert await sessions_backend.store.lookup(digest("t2")) is None

    async def test_account_changes_show_at_once(self, sessions_backend: Backend) -> None:
        """Disabling or verifying an account is seen by the very next lookup (no stale cache)."""
        alice, _ = await two_users(sessions_backend)
        await sessions_backend.store.create(digest("t1"), record("s1", alice))
        assert (await sessions_backend.store.lookup(digest("t1"))).disabled is False  # type: ignore[union-attr]
        await sessions_backend.users.set_disabled(alice.id, True)
        await sessions_backend.users.set_email_verified(alice.id, "alice@example.org", T0)
        found = await sessions_backend.store.lookup(digest("t1"))
        assert found is not None
        assert (found.disabled, found.email_verified) == (True, True)

    async def test_group_changes_show_at_once(self, sessions_backend: Backend) -> None:
        """Forward-auth rules read the groups on every check: a change counts from the next."""
        alice, _ = await two_users(sessions_backend)
        await sessions_backend.store.create(digest("t1"), record("s1", alice))
        assert (await sessions_backend.store.lookup(digest("t1"))).groups == ()  # type: ignore[union-attr]
        users = sessions_backend.users
        assert await users.change_groups(alice.id, ["ops", "admins"], []) == ("admins", "ops")
        assert (await sessions_backend.store.lookup(digest("t1"))).groups == ("admins", "ops")  # type: ignore[union-attr]
        assert await users.change_groups(alice.id, ["x"], ["admins", "none"]) == ("ops", "x")
        assert (await sessions_backend.store.lookup(digest("t1"))).groups == ("ops", "x")  # type: ignore[union-attr]
        assert (await users.by_id(alice.id)).groups == ("ops", "x")  # type: ignore[union-attr]
        assert await users.change_groups(alice.id + 1000, ["x"], []) == ()

    async def test_deleted_account_has_no_sessions(self, sessions_backend: Backend) -> None:
        alice, _ = await two_users(sessions_backend)
        await sessions_backend.store.create(digest("t1"), record("s1", alice))
        await sessions_backend.users.delete(alice.id)
        assert await sessions_backend.store.lookup(digest("t1")) is None
        assert await sessions_backend.store.list_for_user(alice.id) == []

    async def test_touch_moves_last_seen_only(self, sessions_backend: Backend) -> None:
        alice, _ = await two_users(sessions_backend)
        store = sessions_backend.store
        created = record("s1", alice)
        await store.create(digest("t1"), created)
        await store.touch(digest("t1"), T0 + 90.5)
        await store.touch(digest("unknown"), T0 + 90.5)  # no error, creates nothing
        found = await store.lookup(digest("t1"))
        assert found is not None
        assert found.session.last_seen == T0 + 90.5
        assert found.session.expires_at == created.expires_at
        assert found.session.created_at == created.created_at
        assert await store.lookup(digest("unknown")) is None

    async def test_delete_ends_only_that_session(self, sessions_backend: Backend) -> None:
        alice, _ = await two_users(sessions_backend)
        store = sessions_backend.store
        await store.create(digest("t1"), record("s1", alice))
        await store.create(digest("t2"), record("s2", alice, at=T0 + 1))
        await store.delete(digest("t1"))
        await store.delete(digest("t1"))  # twice: no error
        assert await store.lookup(digest("t1")) is None
        assert await store.lookup(digest("t2")) is not None
        assert [s.id for s in await store.list_for_user(alice.id)] == ["s2"]

    async def test_delete_by_id_needs_the_owner(self, sessions_backend: Backend) -> None:
        alice, bob = await two_users(sessions_backend)
        store = sessions_backend.store
        await store.create(digest("t1"), record("s1", alice))
        assert await store.delete_by_id(bob.id, "s1") is False
        assert await store.lookup(digest("t1")) is not None
        assert await store.delete_by_id(alice.id, "s1") is True
        assert await store.delete_by_id(alice.id, "s1") is False
        assert await store.lookup(digest("t1")) is None

    async def test_delete_for_user_keeps_one_and_other_users(
        self, sessions_backend: Backend
    ) -> None:
        alice, bob = await two_users(sessions_backend)
        store = sessions_backend.store
        for i in range(3):
            await store.create(digest(f"a{i}"), record(f"a{i}", alice, at=T0 + i))
        await store.create(digest("b0"), record("b0", bob))
        assert await store.delete_for_user(alice.id, keep_id="a1") == 2
        assert [s.id for s in await store.list_for_user(alice.id)] == ["a1"]
        assert await store.lookup(digest("a0")) is None
        assert await store.lookup(digest("a1")) is not None
        assert await store.delete_for_user(alice.id) == 1
        assert await store.list_for_user(alice.id) == []
        assert await store.lookup(digest("b0")) is not None

    async def test_lists_newest_first(self, sessions_backend: Backend) -> None:
        alice, bob = await two_users(sessions_backend)
        store = sessions_backend.store
        await store.create(digest("a0"), record("a0", alice, at=T0))
        await store.create(digest("a2"), record("a2", alice, at=T0 + 2))
        await store.create(digest("a1"), record("a1", alice, at=T0 + 1))
        await store.create(digest("b0"), record("b0", bob, at=T0 + 3))
        assert [s.id for s in await store.list_for_user(alice.id)] == ["a2", "a1", "a0"]
        assert [s.id for s in await store.list_for_user(bob.id)] == ["b0"]
        assert [s.id for s in await store.list_all()] == ["b0", "a2", "a1", "a0"]

    async def test_concurrent_creates_all_land(self, sessions_backend: Backend) -> None:
        alice, _ = await two_users(sessions_backend)
        store = sessions_backend.store
        await asyncio.gather(
            *(store.create(digest(f"t{i}"), record(f"s{i}", alice, at=T0 + i)) for i in range(20))
        )
        assert len(await store.list_for_user(alice.id)) == 20

    async def test_expired_sessions_are_gone_after_purge(self, sessions_backend: Backend) -> None:
        """In real time: past its expiry or idle limit a session is gone once purged (SQL) or
        by its TTL (Redis); a touched idle session and a long one stay."""
        alice, _ = await two_users(sessions_backend)
        store = sessions_backend.store
        start = time.time()
        await store.create(digest("absolute"), record("absolute", alice, at=start, lasts=1))
        await store.create(digest("idle"), record("idle", alice, at=start, idle=1))
        await store.create(digest("touched"), record("touched", alice, at=start, idle=2))
        await store.create(digest("long"), record("long", alice, at=start))
        await asyncio.sleep(1.1)
        await store.touch(digest("touched"), time.time())
        await asyncio.sleep(1.0)
        purged = await store.purge_expired(time.time())
        assert purged >= 0
        assert await store.lookup(digest("absolute")) is None
        assert await store.lookup(digest("idle")) is None
        assert await store.lookup(digest("touched")) is not None
        assert await store.lookup(digest("long")) is not None
        assert sorted(s.id for s in await store.list_for_user(alice.id)) == ["long", "touched"]
