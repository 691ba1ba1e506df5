"""UserStore.search (the admin pages' user search), on SQLite and PostgreSQL."""

from __future__ import annotations

from signin.stores.base import UserStore
from tests.contract.test_user_store import new_user


class TestUserSearchContract:
    async def test_name_or_email_contains_ordered_by_name(self, user_store: UserStore) -> None:
        for name, email in [("zed", "x@al.example"), ("Alice", None), ("malo", "m@example")]:
            await user_store.create(new_user(name, email))
        assert [u.username for u in await user_store.search("al")] == ["Alice", "malo", "zed"]
        assert [u.username for u in await user_store.search("al", limit=1)] == ["Alice"]
        assert [u.username for u in await user_store.search("m@ex")] == ["malo"]
        assert await user_store.search("nobody") == []

    async def test_wildcards_are_plain_text(self, user_store: UserStore) -> None:
        await user_store.create(new_user("a_b"))
        await user_store.create(new_user("axb"))
        assert [u.username for u in await user_store.search("a_b")] == ["a_b"]
        assert await user_store.search("%") == []
        assert await user_store.search("\\") == []
