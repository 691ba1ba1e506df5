"""One-time tokens on a real SQLite file with a frozen clock: single use, expiry, purpose, stamp."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from signin.accounts.clock import FrozenClock
from signin.accounts.errors import TokenExpired, TokenForeign, TokenInvalid, TokenStale, TokenUsed
from signin.accounts.tokens import OneTimeTokens
from signin.stores.base import NewUser, UserRecord
from signin.stores.sql.engine import create_engine
from signin.stores.sql.schema import one_time_tokens
from signin.stores.sql.tokens import SqlTokenStore
from signin.stores.sql.users import SqlUserStore
from tests.support import migrated


class World:
    def __init__(
        self, users: SqlUserStore, tokens: OneTimeTokens, clock: FrozenClock, store: SqlTokenStore
    ) -> None:
        self.users, self.tokens, self.clock, self.store = users, tokens, clock, store

    async def user(self, name: str, email: str | None = None) -> UserRecord:
        return await self.users.create(
            NewUser(
                username=name,
                username_canon=name.casefold(),
                email=email,
                email_canon=email.casefold() if email else None,
                password_hash="$argon2id$x",
                created_at=self.clock(),
            )
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'signin.db'}"
    await migrated(url)
    engine = create_engine(url)
    clock = FrozenClock()
    users = SqlUserStore(engine)
    store = SqlTokenStore(engine)
    yield World(users, OneTimeTokens(store, users, clock=clock), clock, store)
    await engine.dispose()


async def test_token_is_256_bit_random_and_only_its_hash_is_stored(world: World) -> None:
    user = await world.user("zoe")
    token = await world.tokens.issue(user, "reset", 60)
    assert len(token) == 43  # token_urlsafe(32)
    async with world.store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(one_time_tokens))).all()
    assert len(rows) == 1
    assert rows[0].token_hash == hashlib.sha256(token.encode()).digest()
    assert token not in repr(rows[0])


async def test_redeem_once_then_used(world: World) -> None:
    user = await world.user("zoe")
    token = await world.tokens.issue(user, "reset", 60)
    assert (await world.tokens.check(token, "reset")).user.id == user.id
    assert (await world.tokens.redeem(token, "reset")).id == user.id
    with pytest.raises(TokenUsed):
        await world.tokens.redeem(token, "reset")


async def test_concurrent_redemptions_one_wins(world: World) -> None:
    user = await world.user("zoe")
    token = await world.tokens.issue(user, "reset", 60)
    results = await asyncio.gather(
        *(world.tokens.redeem(token, "reset") for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(r, UserRecord) for r in results) == 1
    assert sum(isinstance(r, TokenUsed) for r in results) == 4


async def test_expiry_on_the_second(world: World) -> None:
    user = await world.user("zoe")
    token = await world.tokens.issue(user, "reset", 1800)
    world.clock.advance(1799)
    await world.tokens.check(token, "reset")
    world.clock.advance(1)
    with pytest.raises(TokenExpired) as caught:
        await world.tokens.redeem(token, "reset")
    assert caught.value.expired_at == world.clock.now


async def test_other_purpose_is_foreign_and_not_used_up(world: World) -> None:
    user = await world.user("zoe", "zoe@example.com")
    verify = await world.tokens.issue(user, "verify", 60)
    with pytest.raises(TokenForeign):
        await world.tokens.redeem(verify, "reset")
    assert (await world.tokens.redeem(verify, "verify")).id == user.id


async def test_other_user_is_foreign(world: World) -> None:
    zoe, max_ = await world.user("zoe"), await world.user("max")
    token = await world.tokens.issue(zoe, "reset", 60)
    with pytest.raises(TokenForeign):
        await world.tokens.redeem(token, "reset", user_id=max_.id)
    await world.tokens.redeem(token, "reset", user_id=zoe.id)


async def test_unknown_and_garbage_tokens(world: World) -> None:
    for token in ("", "x" * 500, "not-a-token", "A" * 43):
        with pytest.raises(TokenInvalid):
            await world.tokens.check(token, "reset")


async def test_password_change_kills_reset_links(world: World) -> None:
    user = await world.user("zoe")
    token = await world.tokens.issue(user, "reset", 60)
    # Same instant on a frozen clock: the new hash alone must already invalidate the link.
    await world.users.set_password_hash(user.id, "$argon2id$new", world.clock())
    with pytest.raises(TokenStale):
        await world.tokens.check(token, "reset")


async def test_verify_link_is_bound_to_the_address(world: World) -> None:
    user = await world.user("zoe", "zoe@example.com")
    token = await world.tokens.issue(user, "verify", 60)
    async with world.store.write() as conn:
        await conn.execute(
            sa.text(
                "UPDATE users SET email='other@example.com', "
                "email_canon='other@example.com' WHERE id=:id"
            ),
            {"id": user.id},
        )
    with pytest.raises(TokenStale):
        await world.tokens.check(token, "verify")


async def test_disabled_user_cannot_redeem(world: World) -> None:
    user = await world.user("zoe")
    token = await world.tokens.issue(user, "reset", 60)
    await world.users.set_disabled(user.id, True)
    with pytest.raises(TokenInvalid):
        await world.tokens.redeem(token, "reset")


async def test_expired_rows_are_purged_after_a_day(world: World) -> None:
    user = await world.user("zoe")
    await world.tokens.issue(user, "reset", 60)
    world.clock.advance(86400 + 3600 + 61)
    await world.tokens.issue(user, "reset", 60)  # the next issue purges
    async with world.store.engine.connect() as conn:
        count = (
            await conn.execute(sa.select(sa.func.count()).select_from(one_time_tokens))
        ).scalar_one()
    assert count == 1
