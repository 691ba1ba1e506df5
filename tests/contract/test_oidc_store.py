"""The OidcStore contract on SQLite and PostgreSQL: codes and refresh tokens used once (also
when raced), families revoked whole (also before they are stored), tokens dead with their user."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.oidc import CodeRecord, ConsentRecord, GrantRecord, OidcToken
from signin.stores.sql.oidc import SqlOidcStore
from signin.stores.sql.users import SqlUserStore
from tests.contract.test_user_store import new_user

T0 = 1_800_000_000.0


def h(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def code(user_id: int, name: str = "code") -> CodeRecord:
    return CodeRecord(
        h(name),
        "app",
        user_id,
        "https://a/cb",
        "openid",
        "n",
        None,
        None,
        T0,
        "pwd",
        "s1",
        T0,
        T0 + 60,
    )


def grant(user_id: int, grant_id: str = "g1", revoked: float | None = None) -> GrantRecord:
    return GrantRecord(grant_id, "app", user_id, "openid", T0, "pwd", "s1", T0, T0 + 3600, revoked)


def tokens(grant_id: str, *names: str) -> list[OidcToken]:
    return [
        OidcToken(h(name), "refresh" if name.startswith("r") else "access", grant_id, T0, T0 + 3600)
        for name in names
    ]


async def setup(engine: AsyncEngine) -> tuple[SqlOidcStore, int]:
    user = await SqlUserStore(engine).create(new_user("alice"))
    store = SqlOidcStore(engine)
    assert await store.subject(user.id) == await store.subject(user.id)
    return store, user.id


class TestOidcStoreContract:
    async def test_a_code_is_redeemed_once_even_when_raced(self, sql_engine: AsyncEngine) -> None:
        store, user_id = await setup(sql_engine)
        await store.add_code(code(user_id))
        results = await asyncio.gather(
            *(store.redeem_code(h("code"), T0 + 1, f"g{i}") for i in range(6))
        )
        fresh = [r for r in results if r is not None and not r.reused]
        assert len(fresh) == 1
        assert all(r is not None and r.reused for r in results if r is not fresh[0])
        assert {r.grant_id for r in results if r is not None} == {fresh[0].grant_id}
        await store.add_code(code(user_id, "late"))
        assert await store.redeem_code(h("late"), T0 + 61, "gx") is None  # expired

    async def test_refresh_rotates_once_and_reuse_is_seen(self, sql_engine: AsyncEngine) -> None:
        store, user_id = await setup(sql_engine)
        assert await store.add_grant(grant(user_id), tokens("g1", "a1", "r1"))
        live = await store.active(h("a1"), "access", T0 + 1)
        assert live is not None
        assert live.person.username == "alice"
        raced = await asyncio.gather(
            *(
                store.rotate_refresh(h("r1"), T0 + 2, tokens("", f"a2{i}", f"r2{i}"), T0 + 7200)
                for i in range(4)
            )
        )
        winners = [i for i, r in enumerate(raced) if r.grant is not None]
        assert len(winners) == 1
        assert all(r.reused_grant == "g1" for r in raced if r.grant is None)
        won = winners[0]
        assert await store.active(h(f"a2{won}"), "access", T0 + 3) is not None
        losers = [i for i in range(4) if i != won]
        for i in losers:
            assert await store.active(h(f"a2{i}"), "access", T0 + 3) is None
        live = await store.active(h(f"a2{won}"), "access", T0 + 3)
        assert live is not None
        assert live.grant.expires_at == T0 + 7200
        assert await store.revoke_grant("g1", T0 + 3)
        assert await store.active(h(f"a2{won}"), "access", T0 + 3) is None
        again = await store.rotate_refresh(h(f"r2{won}"), T0 + 3, [], T0)
        assert again.grant is None

    async def test_an_access_token_keeps_its_own_narrower_scope(
        self, sql_engine: AsyncEngine
    ) -> None:
        """Stored by the fast rotation (`grant=`) and the full one alike; None is the grant's."""
        store, user_id = await setup(sql_engine)
        wide = replace(grant(user_id), scope="openid email offline_access")
        assert await store.add_grant(wide, tokens("g1", "a1", "r1"))
        first = await store.active(h("a1"), "access", T0 + 1)
        assert first is not None
        assert first.token.scope is None
        assert first.scope == "openid email offline_access"
        live = await store.active(h("r1"), "refresh", T0 + 1)
        assert live is not None
        narrow = [
            replace(t, scope="openid" if t.kind == "access" else None)
            for t in tokens("", "a2", "r2")
        ]
        fast = await store.rotate_refresh(h("r1"), T0 + 2, narrow, T0 + 7200, grant=live.grant)
        assert fast.grant is not None
        narrow = [
            replace(t, scope="openid email" if t.kind == "access" else None)
            for t in tokens("", "a3", "r3")
        ]
        full = await store.rotate_refresh(h("r2"), T0 + 3, narrow, T0 + 7200)
        assert full.grant is not None
        for name, scope in (("a2", "openid"), ("a3", "openid email")):
            found = await store.active(h(name), "access", T0 + 4)
            assert found is not None
            assert (found.token.scope, found.scope) == (scope, scope)
        refresh = await store.active(h("r3"), "refresh", T0 + 4)
        assert refresh is not None
        assert refresh.scope == "openid email offline_access"

    async def test_a_tombstone_stops_a_family_not_yet_stored(self, sql_engine: AsyncEngine) -> None:
        store, user_id = await setup(sql_engine)
        assert await store.revoke_grant("g9", T0, grant(user_id, "g9", revoked=T0))
        assert not await store.add_grant(grant(user_id, "g9"), tokens("g9", "a9"))
        assert await store.active(h("a9"), "access", T0) is None

    async def test_user_revocation_consents_and_disabled_users(
        self, sql_engine: AsyncEngine
    ) -> None:
        store, user_id = await setup(sql_engine)
        await store.add_grant(grant(user_id), tokens("g1", "a1"))
        await SqlUserStore(sql_engine).set_disabled(user_id, True)
        assert await store.active(h("a1"), "access", T0) is None
        assert await store.person(user_id) is None
        await SqlUserStore(sql_engine).set_disabled(user_id, False)
        assert await store.active(h("a1"), "access", T0) is not None
        assert [g.id for g in await store.grants_for_user(user_id, T0)] == ["g1"]
        assert await store.revoke_for_user(user_id, T0, "other") == 0
        assert await store.revoke_for_user(user_id, T0) == 1
        assert await store.active(h("a1"), "access", T0) is None
        await store.give_consent(ConsentRecord(user_id, "app", "openid", T0))
        await store.give_consent(ConsentRecord(user_id, "app", "openid email", T0 + 1))
        found = await store.consent(user_id, "app")
        assert found is not None
        assert found.scope == "openid email"
        assert len(await store.consents_for_user(user_id)) == 1
        assert await store.withdraw_consent(user_id, "app")
        assert await store.consent(user_id, "app") is None
        assert await store.purge(T0 + 10_000) >= 1

    async def test_a_refresh_of_a_family_just_read_is_one_conditional_write(
        self, sql_engine: AsyncEngine
    ) -> None:
        """`grant=` (the token endpoint's path): raced, revoked and expired as without it."""
        store, user_id = await setup(sql_engine)
        assert await store.add_grant(grant(user_id), tokens("g1", "a1", "r1"))
        live = await store.active(h("r1"), "refresh", T0 + 1)
        assert live is not None
        raced = await asyncio.gather(
            *(
                store.rotate_refresh(
                    h("r1"), T0 + 2, tokens("", f"a2{i}", f"r2{i}"), T0 + 7200, grant=live.grant
                )
                for i in range(4)
            )
        )
        winners = [i for i, r in enumerate(raced) if r.grant is not None]
        assert len(winners) == 1
        assert all(r.reused_grant == "g1" for r in raced if r.grant is None)
        won = winners[0]
        rotated = raced[won].grant
        assert rotated is not None
        assert rotated.expires_at == T0 + 7200
        for i in range(4):
            found = await store.active(h(f"r2{i}"), "refresh", T0 + 3)
            assert (found is not None) == (i == won)
        found = await store.active(h(f"a2{won}"), "access", T0 + 3)
        assert found is not None
        assert found.grant.expires_at == T0 + 7200
        assert found.person.username == "alice"
        # A family revoked after it was read: nothing is written, no token is given.
        assert await store.revoke_grant("g1", T0 + 4)
        late = await store.rotate_refresh(
            h(f"r2{won}"), T0 + 5, tokens("", "a3", "r3"), T0 + 9000, grant=live.grant
        )
        assert late.grant is None
        assert await store.active(h("r3"), "refresh", T0 + 5) is None
        # An expired token with a live family: refused, nothing stored.
        assert await store.add_grant(grant(user_id, "g2"), tokens("g2", "r5"))
        live2 = await store.active(h("r5"), "refresh", T0 + 1)
        assert live2 is not None
        expired = await store.rotate_refresh(
            h("r5"), T0 + 3601, tokens("", "a6", "r6"), T0 + 9000, grant=live2.grant
        )
        assert expired.grant is None
        assert expired.reused_grant is None
        assert await store.active(h("r6"), "refresh", T0 + 3601) is None
