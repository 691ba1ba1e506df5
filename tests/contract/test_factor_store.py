"""The FactorStore contract (TOTP factors and recovery codes), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib

from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.sql.factors import SqlFactorStore
from signin.stores.sql.users import SqlUserStore
from tests.contract.test_user_store import new_user

T0 = 1_800_000_000.5


def h(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


async def store_and_user(engine: AsyncEngine, name: str = "alice") -> tuple[SqlFactorStore, int]:
    user = await SqlUserStore(engine).create(new_user(name))
    return SqlFactorStore(engine), user.id


class TestFactorStoreContract:
    async def test_begin_replaces_an_unconfirmed_factor(self, sql_engine: AsyncEngine) -> None:
        store, uid = await store_and_user(sql_engine)
        assert await store.totp(uid) is None
        await store.begin_totp(uid, b"sealed-1", T0)
        await store.begin_totp(uid, b"sealed-2", T0 + 1)
        record = await store.totp(uid)
        assert record is not None
        assert (record.secret, record.created_at, record.confirmed_at, record.last_step) == (
            b"sealed-2",
            T0 + 1,
            None,
            None,
        )

    async def test_confirm_once_with_its_codes(self, sql_engine: AsyncEngine) -> None:
        store, uid = await store_and_user(sql_engine)
        await store.begin_totp(uid, b"sealed", T0)
        assert await store.use_step(uid, 5) is False  # not confirmed yet
        assert await store.confirm_totp(uid, 100, T0 + 5, [h("a"), h("b")]) is True
        assert await store.confirm_totp(uid, 101, T0 + 6, [h("c")]) is False
        record = await store.totp(uid)
        assert record is not None
        assert (record.confirmed_at, record.last_step) == (T0 + 5, 100)
        assert await store.recovery_left(uid) == 2

    async def test_steps_move_forward_only(self, sql_engine: AsyncEngine) -> None:
        store, uid = await store_and_user(sql_engine)
        await store.begin_totp(uid, b"sealed", T0)
        await store.confirm_totp(uid, 100, T0, [])
        assert await store.use_step(uid, 100) is False
        assert await store.use_step(uid, 99) is False
        assert await store.use_step(uid, 101) is True
        assert await store.use_step(uid, 101) is False
        racing = await asyncio.gather(*(store.use_step(uid, 102) for _ in range(4)))
        assert sorted(racing) == [False, False, False, True]

    async def test_recovery_codes_are_used_once_and_per_user(self, sql_engine: AsyncEngine) -> None:
        store, alice = await store_and_user(sql_engine)
        _, bob = await store_and_user(sql_engine, "bob")
        for uid, codes in ((alice, ["a1", "a2"]), (bob, ["b1"])):
            await store.begin_totp(uid, b"sealed", T0)
            await store.confirm_totp(uid, 1, T0, [h(c) for c in codes])
        assert await store.use_recovery(alice, [h("b1")], T0) is False
        assert await store.use_recovery(alice, [h("zz"), h("a1")], T0) is True
        assert await store.use_recovery(alice, [h("a1")], T0) is False
        assert await store.use_recovery(alice, [], T0) is False
        racing = await asyncio.gather(*(store.use_recovery(alice, [h("a2")], T0) for _ in range(3)))
        assert sorted(racing) == [False, False, True]
        assert await store.recovery_left(alice) == 0
        await store.replace_recovery(alice, [h("n1")], T0 + 1)
        assert await store.recovery_left(alice) == 1
        assert await store.recovery_left(bob) == 1

    async def test_reseal_and_remove(self, sql_engine: AsyncEngine) -> None:
        store, uid = await store_and_user(sql_engine)
        await store.begin_totp(uid, b"sealed", T0)
        await store.confirm_totp(uid, 1, T0, [h("a")])
        await store.reseal_totp(uid, b"resealed")
        record = await store.totp(uid)
        assert record is not None
        assert (record.secret, record.last_step) == (b"resealed", 1)
        assert await store.remove(uid) is True
        assert await store.totp(uid) is None
        assert await store.recovery_left(uid) == 0
        assert await store.remove(uid) is False
