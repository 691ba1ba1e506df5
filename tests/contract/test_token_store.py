"""The TokenStore contract (one-time reset and verification links), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib

from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.base import TokenRecord
from signin.stores.sql.tokens import SqlTokenStore
from signin.stores.sql.users import SqlUserStore
from tests.contract.test_user_store import new_user

T0 = 1_800_000_000.75


def token(name: str, user_id: int, *, purpose: str = "reset", lasts: float = 1800) -> TokenRecord:
    return TokenRecord(
        token_hash=hashlib.sha256(name.encode()).digest(),
        purpose=purpose,
        user_id=user_id,
        stamp="stamp-" + name,
        created_at=T0,
        expires_at=T0 + lasts,
        used_at=None,
    )


class TestTokenStoreContract:
    async def test_add_and_get(self, sql_engine: AsyncEngine) -> None:
        user = await SqlUserStore(sql_engine).create(new_user("alice"))
        store = SqlTokenStore(sql_engine)
        added = token("t1", user.id)
        await store.add(added)
        assert await store.get(added.token_hash) == added
        assert await store.get(hashlib.sha256(b"other").digest()) is None

    async def test_use_once_for_its_purpose_before_expiry(self, sql_engine: AsyncEngine) -> None:
        user = await SqlUserStore(sql_engine).create(new_user("alice"))
        store = SqlTokenStore(sql_engine)
        reset, expired = token("reset", user.id), token("old", user.id, lasts=10)
        await store.add(reset)
        await store.add(expired)
        assert await store.use(reset.token_hash, "verify", T0 + 1) is False
        assert await store.use(expired.token_hash, "reset", T0 + 10) is False
        assert await store.use(reset.token_hash, "reset", T0 + 1) is True
        assert await store.use(reset.token_hash, "reset", T0 + 2) is False
        used = await store.get(reset.token_hash)
        assert used is not None
        assert used.used_at == T0 + 1

    async def test_concurrent_use_succeeds_once(self, sql_engine: AsyncEngine) -> None:
        user = await SqlUserStore(sql_engine).create(new_user("alice"))
        store = SqlTokenStore(sql_engine)
        reset = token("reset", user.id)
        await store.add(reset)
        results = await asyncio.gather(
            *(store.use(reset.token_hash, "reset", T0 + 1) for _ in range(10))
        )
        assert results.count(True) == 1

    async def test_purge_and_cascade(self, sql_engine: AsyncEngine) -> None:
        users = SqlUserStore(sql_engine)
        alice, bob = await users.create(new_user("alice")), await users.create(new_user("bob"))
        store = SqlTokenStore(sql_engine)
        short, long = token("short", alice.id, lasts=10), token("long", alice.id)
        bobs = token("bobs", bob.id)
        for record in (short, long, bobs):
            await store.add(record)
        assert await store.purge(T0 + 11) == 1
        assert await store.get(short.token_hash) is None
        assert await store.get(long.token_hash) is not None
        await users.delete(bob.id)  # an account's tokens go with it
        assert await store.get(bobs.token_hash) is None
