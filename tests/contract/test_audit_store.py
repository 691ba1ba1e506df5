"""The AuditStore contract (the audit log's table), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from signin.accounts.audit import AuditEvent, AuditQuery
from signin.stores.sql.audit import SqlAuditStore

T0 = 1_800_000_000.0  # a whole hour: 500_000 * 3600


def event(type: str, username: str | None, at: float, **details: str | int | bool) -> AuditEvent:
    return AuditEvent(
        at=at, type=type, username=username, ip="192.0.2.1", user_agent="ua", details=details
    )


class TestAuditStoreContract:
    async def test_append_and_query_newest_first(self, sql_engine: AsyncEngine) -> None:
        store = SqlAuditStore(sql_engine)
        await store.append(
            [
                event("sign_in", "alice", T0, during="x"),
                event("sign_in_failed", "alice", T0 + 1),
                event("sign_in", "bob", T0 + 2),
                event("lock_cleared", None, T0 + 3, key="ip:192.0.2.1", by="cli"),
            ]
        )
        found = await store.query(AuditQuery())
        assert [e.type for e in found] == ["lock_cleared", "sign_in", "sign_in_failed", "sign_in"]
        assert found[0].details == {"key": "ip:192.0.2.1", "by": "cli"}
        assert found[0].username is None
        assert found[-1].details == {"during": "x"}
        assert found[-1].ip == "192.0.2.1"
        assert found[-1].user_agent == "ua"
        assert all(e.id is not None for e in found)

    async def test_filters_and_limit(self, sql_engine: AsyncEngine) -> None:
        store = SqlAuditStore(sql_engine)
        await store.append([event("sign_in", "alice", T0 + i) for i in range(5)])
        await store.append([event("sign_in_failed", "bob", T0 + 10)])
        assert len(await store.query(AuditQuery(username="alice"))) == 5
        assert len(await store.query(AuditQuery(username="alice", limit=2))) == 2
        assert [e.username for e in await store.query(AuditQuery(types=("sign_in_failed",)))] == [
            "bob"
        ]
        recent = await store.query(AuditQuery(since=T0 + 3, until=T0 + 10))
        assert [e.at for e in recent] == [T0 + 4, T0 + 3]
        assert await store.query(AuditQuery(username="carol")) == []

    async def test_hourly_counts(self, sql_engine: AsyncEngine) -> None:
        store = SqlAuditStore(sql_engine)
        hour = int(T0 // 3600)
        await store.append(
            [
                event("sign_in", "a", T0 + 10),
                event("sign_in", "a", T0 + 3599.9),  # still the first hour (floor, not round)
                event("sign_in", "a", T0 + 3600),
                event("sign_in_failed", "a", T0 + 7300),
                event("sign_up", "a", T0 + 20),
            ]
        )
        counts = await store.hourly(["sign_in", "sign_in_failed"], T0)
        assert counts == {
            ("sign_in", hour): 2,
            ("sign_in", hour + 1): 1,
            ("sign_in_failed", hour + 2): 1,
        }
        assert await store.hourly(["sign_in"], T0 + 3600) == {("sign_in", hour + 1): 1}

    async def test_prune_deletes_only_older_events(self, sql_engine: AsyncEngine) -> None:
        store = SqlAuditStore(sql_engine)
        await store.append([event("sign_in", "a", T0 + i) for i in range(4)])
        assert await store.prune(T0 + 2) == 2
        assert [e.at for e in await store.query(AuditQuery())] == [T0 + 3, T0 + 2]
        assert await store.prune(T0) == 0

    async def test_text_is_kept_as_typed(self, sql_engine: AsyncEngine) -> None:
        store = SqlAuditStore(sql_engine)
        odd = "zoë \x1b[2J [red]x[/red] '; DROP TABLE users; --"
        await store.append([event("sign_in_failed", odd, T0, note=odd)])
        (found,) = await store.query(AuditQuery(username=odd))
        assert found.username == odd
        assert found.details == {"note": odd}
