"""The UserStore contract, run against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from signin.stores.base import DuplicateUser, NewUser, UserStore

T0 = 1_800_000_000.123456


def new_user(name: str, email: str | None = None, at: float = T0) -> NewUser:
    return NewUser(
        username=name,
        username_canon=name.casefold(),
        email=email,
        email_canon=email.casefold() if email else None,
        password_hash="$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        created_at=at,
    )


class TestUserStoreContract:
    async def test_create_returns_the_stored_record(self, user_store: UserStore) -> None:
        """Every field comes back as given: Unicode names, exact float times, no verification."""
        user = await user_store.create(new_user("Zoë", "Zoe@Example.org"))
        assert user.id > 0
        assert (user.username, user.username_canon) == ("Zoë", "zoë")
        assert user.email == "Zoe@Example.org"
        assert user.email_verified is False
        assert user.created_at == T0
        assert user.password_changed_at == T0
        assert user.disabled is False
        assert await user_store.by_id(user.id) == user
        assert await user_store.by_canon("zoë") == user
        assert await user_store.by_email("zoe@example.org") == user

    async def test_language_is_kept_and_changed(self, user_store: UserStore) -> None:
        """The language of the user's mails: given at creation, changed later, else None."""
        plain = await user_store.create(new_user("ana"))
        assert plain.language is None
        made = await user_store.create(dataclasses.replace(new_user("ben"), language="de"))
        assert made.language == "de"
        assert (await user_store.by_canon("ben")) == made
        await user_store.set_language(made.id, "ar")
        await user_store.set_language(made.id, "ar")  # the same again: nothing to change
        found = await user_store.by_id(made.id)
        assert found is not None
        assert found.language == "ar"
        assert (await user_store.by_id(plain.id)) == plain  # no other row touched

    async def test_unknown_lookups_are_none(self, user_store: UserStore) -> None:
        await user_store.create(new_user("alice"))
        assert await user_store.by_id(9999) is None
        assert await user_store.by_canon("bob") is None
        assert await user_store.by_email("bob@example.org") is None

    async def test_taken_username_and_email_raise_duplicate(self, user_store: UserStore) -> None:
        await user_store.create(new_user("alice", "a@example.org"))
        with pytest.raises(DuplicateUser) as by_name:
            await user_store.create(new_user("ALICE"))
        assert by_name.value.field == "username"
        with pytest.raises(DuplicateUser) as by_email:
            await user_store.create(new_user("alicia", "A@example.org"))
        assert by_email.value.field == "email"

    async def test_many_users_without_email(self, user_store: UserStore) -> None:
        """A missing email is not a value: it never collides with another missing one."""
        for name in ("u1", "u2", "u3"):
            await user_store.create(new_user(name))
        assert [u.username for u in await user_store.list()] == ["u1", "u2", "u3"]

    async def test_concurrent_creates_of_one_name_one_wins(self, user_store: UserStore) -> None:
        results = await asyncio.gather(
            *(user_store.create(new_user("Racer" if i % 2 else "racer")) for i in range(8)),
            return_exceptions=True,
        )
        created = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, DuplicateUser)]
        assert len(created) == 1
        assert len(refused) == 7

    async def test_password_hash_change_and_rehash(self, user_store: UserStore) -> None:
        user = await user_store.create(new_user("alice"))
        await user_store.set_password_hash(user.id, "$argon2id$new", T0 + 10)
        changed = await user_store.by_id(user.id)
        assert changed is not None
        assert (changed.password_hash, changed.password_changed_at) == ("$argon2id$new", T0 + 10)
        await user_store.set_password_hash(user.id, "$argon2id$rehashed", T0 + 20, rehash_only=True)
        rehashed = await user_store.by_id(user.id)
        assert rehashed is not None
        assert rehashed.password_hash == "$argon2id$rehashed"
        assert rehashed.password_changed_at == T0 + 10

    async def test_disable_and_enable(self, user_store: UserStore) -> None:
        user = await user_store.create(new_user("alice"))
        await user_store.set_disabled(user.id, True)
        assert (await user_store.by_id(user.id)).disabled is True  # type: ignore[union-attr]
        await user_store.set_disabled(user.id, False)
        assert (await user_store.by_id(user.id)).disabled is False  # type: ignore[union-attr]

    async def test_email_verified_only_for_the_current_address(self, user_store: UserStore) -> None:
        user = await user_store.create(new_user("alice", "a@example.org"))
        assert await user_store.set_email_verified(user.id, "old@example.org", T0) is False
        assert (await user_store.by_id(user.id)).email_verified is False  # type: ignore[union-attr]
        assert await user_store.set_email_verified(user.id, "a@example.org", T0) is True
        assert (await user_store.by_id(user.id)).email_verified is True  # type: ignore[union-attr]

    async def test_delete(self, user_store: UserStore) -> None:
        user = await user_store.create(new_user("alice"))
        assert await user_store.delete(user.id) is True
        assert await user_store.delete(user.id) is False
        assert await user_store.by_id(user.id) is None
        assert await user_store.by_canon("alice") is None

    async def test_list_pages_in_id_order(self, user_store: UserStore) -> None:
        for i in range(5):
            await user_store.create(new_user(f"user{i}", at=T0 + i))
        first = await user_store.list(limit=2)
        rest = await user_store.list(limit=10, offset=2)
        assert [u.username for u in first] == ["user0", "user1"]
        assert [u.username for u in rest] == ["user2", "user3", "user4"]
        assert [u.id for u in first + rest] == sorted(u.id for u in first + rest)


class TestSkeletonContract:
    """A taken skeleton is a taken username, on every SQL backend (SPEC section 16)."""

    async def test_a_look_alike_skeleton_is_a_duplicate_username(
        self, user_store: UserStore
    ) -> None:
        first = await user_store.create(skeletal("coco", "coco-skeleton"))
        assert await user_store.skeleton_taken("coco-skeleton")
        assert not await user_store.skeleton_taken("other")
        with pytest.raises(DuplicateUser) as caught:
            await user_store.create(skeletal("сосо", "coco-skeleton"))
        assert caught.value.field == "username"
        assert await user_store.by_id(first.id) == first

    async def test_concurrent_look_alikes_one_wins(self, user_store: UserStore) -> None:
        names = ["coco", "сосо", "cocо", "соco"]
        results = await asyncio.gather(
            *(user_store.create(skeletal(name, "coco-skeleton")) for name in names),
            return_exceptions=True,
        )
        assert sum(not isinstance(result, BaseException) for result in results) == 1
        assert all(
            isinstance(result, DuplicateUser) for result in results if isinstance(result, Exception)
        )

    async def test_accounts_without_a_skeleton_never_collide(self, user_store: UserStore) -> None:
        await user_store.create(new_user("old1"))
        await user_store.create(new_user("old2"))
        assert len(await user_store.list()) == 2


def skeletal(name: str, value: str) -> NewUser:
    return dataclasses.replace(new_user(name), username_skeleton=value)
