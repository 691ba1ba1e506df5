"""The InviteStore contract on SQLite and PostgreSQL: one use per use, account and use together."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.base import DuplicateUser, InviteRecord, UserStore
from signin.stores.sql.invites import SqlInviteStore
from tests.contract.test_user_store import T0, new_user


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def invite(
    invite_id: str, *, uses: int = 1, groups: tuple[str, ...] = (), lasts: float = 3600
) -> InviteRecord:
    return InviteRecord(invite_id, None, groups, uses, 0, T0, T0 + lasts, None)


@pytest.fixture
def invites(sql_engine: AsyncEngine) -> SqlInviteStore:
    return SqlInviteStore(sql_engine)


class TestInviteStoreContract:
    async def test_round_trip_and_list(self, invites: SqlInviteStore) -> None:
        record = InviteRecord("a1", "Ann@Example.org", ("ops",), 2, 0, T0, T0 + 60, None)
        await invites.add(digest("t"), record, "ann@example.org")
        assert await invites.get(digest("t")) == (record, "ann@example.org")
        assert await invites.get(digest("other")) is None
        assert await invites.list() == [record]

    async def test_use_gives_groups_and_counts(
        self, invites: SqlInviteStore, user_store: UserStore
    ) -> None:
        await invites.add(digest("t"), invite("a1", uses=2, groups=("ops", "dev")), None)
        first = await invites.create_user(digest("t"), new_user("ann"), T0 + 1)
        assert first is not None
        assert first.groups == ("dev", "ops")
        assert (await user_store.by_canon("ann")) == first
        second = await invites.create_user(digest("t"), new_user("bob"), T0 + 1)
        assert second is not None
        assert await invites.create_user(digest("t"), new_user("cat"), T0 + 1) is None
        assert await user_store.by_canon("cat") is None
        found = await invites.get(digest("t"))
        assert found is not None
        assert found[0].uses == 2

    async def test_expired_revoked_unknown(
        self, invites: SqlInviteStore, user_store: UserStore
    ) -> None:
        await invites.add(digest("old"), invite("a1", lasts=10), None)
        assert await invites.create_user(digest("old"), new_user("ann"), T0 + 10) is None
        await invites.add(digest("gone"), invite("a2"), None)
        assert await invites.revoke("a2", T0) is True
        assert await invites.revoke("a2", T0) is False
        assert await invites.revoke("nope", T0) is False
        assert await invites.create_user(digest("gone"), new_user("ann"), T0) is None
        assert await invites.create_user(digest("unknown"), new_user("ann"), T0) is None
        assert await user_store.list() == []

    async def test_taken_name_gives_the_use_back(
        self, invites: SqlInviteStore, user_store: UserStore
    ) -> None:
        await user_store.create(new_user("ann"))
        await invites.add(digest("t"), invite("a1"), None)
        with pytest.raises(DuplicateUser):
            await invites.create_user(digest("t"), new_user("Ann".lower()), T0)
        found = await invites.get(digest("t"))
        assert found is not None
        assert found[0].uses == 0
        assert await invites.create_user(digest("t"), new_user("bob"), T0) is not None

    async def test_racing_sign_ups_make_exactly_one_account(
        self, invites: SqlInviteStore, user_store: UserStore
    ) -> None:
        await invites.add(digest("t"), invite("a1"), None)
        results = await asyncio.gather(
            *(invites.create_user(digest("t"), new_user(f"user{i}"), T0) for i in range(8))
        )
        assert sum(result is not None for result in results) == 1
        assert len(await user_store.list()) == 1
        found = await invites.get(digest("t"))
        assert found is not None
        assert found[0].uses == 1
