"""The PasskeyStore and ChallengeStore contracts, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.base import DuplicatePasskey, PasskeyRecord
from signin.stores.sql.passkeys import SqlChallengeStore, SqlPasskeyStore
from signin.stores.sql.users import SqlUserStore
from tests.contract.test_user_store import new_user

T0 = 1_800_000_000.25


async def add(
    store: SqlPasskeyStore, user_id: int, name: str = "Laptop", *, handle: bytes = b"h" * 32
) -> PasskeyRecord:
    return await store.add(
        user_id=user_id,
        credential_id=secrets.token_bytes(16),
        public_key=b"\xa5" + secrets.token_bytes(76),
        sign_count=0,
        user_handle=handle,
        name=name,
        transports=("internal", "hybrid"),
        now=T0,
    )


class TestPasskeyStoreContract:
    async def test_add_returns_what_by_credential_id_finds(self, sql_engine: AsyncEngine) -> None:
        alice = await SqlUserStore(sql_engine).create(new_user("alice"))
        store = SqlPasskeyStore(sql_engine)
        added = await add(store, alice.id, "Zoë's phone")
        assert added.id > 0
        assert (added.user_id, added.name, added.created_at) == (alice.id, "Zoë's phone", T0)
        assert (added.sign_count, added.last_used_at, added.transports) == (
            0,
            None,
            ("internal", "hybrid"),
        )
        assert await store.by_credential_id(added.credential_id) == added
        assert await store.by_credential_id(b"nobody") is None

    async def test_a_credential_id_is_registered_once(self, sql_engine: AsyncEngine) -> None:
        users = SqlUserStore(sql_engine)
        alice, bob = await users.create(new_user("alice")), await users.create(new_user("bob"))
        store = SqlPasskeyStore(sql_engine)
        first = await add(store, alice.id)
        with pytest.raises(DuplicatePasskey):
            await store.add(
                user_id=bob.id,
                credential_id=first.credential_id,
                public_key=b"k",
                sign_count=0,
                user_handle=b"b",
                name="copy",
                transports=(),
                now=T0,
            )
        assert await store.list_for_user(bob.id) == []

    async def test_list_and_handle_are_per_user(self, sql_engine: AsyncEngine) -> None:
        users = SqlUserStore(sql_engine)
        alice, bob = await users.create(new_user("alice")), await users.create(new_user("bob"))
        store = SqlPasskeyStore(sql_engine)
        assert await store.user_handle(alice.id) is None
        one = await add(store, alice.id, "one", handle=b"A" * 32)
        await add(store, bob.id, "bob's", handle=b"B" * 32)
        two = await add(store, alice.id, "two", handle=b"A" * 32)
        assert await store.list_for_user(alice.id) == [one, two]
        assert await store.user_handle(alice.id) == b"A" * 32
        assert await store.user_handle(bob.id) == b"B" * 32

    async def test_record_use_only_from_the_counter_it_saw(self, sql_engine: AsyncEngine) -> None:
        alice = await SqlUserStore(sql_engine).create(new_user("alice"))
        store = SqlPasskeyStore(sql_engine)
        key = await add(store, alice.id)
        assert await store.record_use(key.id, 0, 7, T0 + 5)
        assert not await store.record_use(key.id, 0, 8, T0 + 6)  # someone moved it to 7
        found = await store.by_credential_id(key.credential_id)
        assert found is not None
        assert (found.sign_count, found.last_used_at) == (7, T0 + 5)
        big = 2**32 - 1  # the counter is 32 bits unsigned
        assert await store.record_use(key.id, 7, big, T0 + 7)
        found = await store.by_credential_id(key.credential_id)
        assert found is not None
        assert found.sign_count == big

    async def test_concurrent_uses_from_one_count_one_wins(self, sql_engine: AsyncEngine) -> None:
        alice = await SqlUserStore(sql_engine).create(new_user("alice"))
        store = SqlPasskeyStore(sql_engine)
        key = await add(store, alice.id)
        results = await asyncio.gather(*(store.record_use(key.id, 0, 1, T0) for _ in range(6)))
        assert sorted(results) == [False] * 5 + [True]

    async def test_delete_only_the_owners(self, sql_engine: AsyncEngine) -> None:
        users = SqlUserStore(sql_engine)
        alice, bob = await users.create(new_user("alice")), await users.create(new_user("bob"))
        store = SqlPasskeyStore(sql_engine)
        key = await add(store, alice.id)
        assert not await store.delete(bob.id, key.id)
        assert await store.delete(alice.id, key.id)
        assert not await store.delete(alice.id, key.id)
        assert await store.by_credential_id(key.credential_id) is None

    async def test_deleting_the_user_deletes_the_passkeys(self, sql_engine: AsyncEngine) -> None:
        users = SqlUserStore(sql_engine)
        alice = await users.create(new_user("alice"))
        store = SqlPasskeyStore(sql_engine)
        key = await add(store, alice.id)
        assert await users.delete(alice.id)
        assert await store.by_credential_id(key.credential_id) is None


class TestChallengeStoreContract:
    async def test_consume_once(self, sql_engine: AsyncEngine) -> None:
        store = SqlChallengeStore(sql_engine)
        assert await store.consume("c1", T0 + 300)
        assert not await store.consume("c1", T0 + 300)
        assert await store.consume("c2", T0 + 300)

    async def test_concurrent_consumers_one_wins(self, sql_engine: AsyncEngine) -> None:
        store = SqlChallengeStore(sql_engine)
        results = await asyncio.gather(*(store.consume("race", T0 + 300) for _ in range(6)))
        assert sorted(results) == [False] * 5 + [True]

    async def test_purge_forgets_only_expired(self, sql_engine: AsyncEngine) -> None:
        store = SqlChallengeStore(sql_engine)
        await store.consume("old", T0)
        await store.consume("new", T0 + 300)
        assert await store.purge(T0 + 1) == 1
        assert not await store.consume("new", T0 + 300)
        assert await store.consume("old", T0 + 600)
