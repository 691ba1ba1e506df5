"""The PostgreSQL point reads (stores/sql/pgread.py) against a real server.

They must answer exactly what the SQLAlchemy path answers, see every commit at once, never
write, and step aside (MISS, then the ordinary path) whenever anything goes wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.services import build_services
from signin.stores.base import NewUser, SessionRecord, StoreUnavailable
from signin.stores.sql.engine import create_engine
from signin.stores.sql.factors import SqlFactorStore
from signin.stores.sql.fastread import MISS
from signin.stores.sql.pgread import PgReads
from signin.stores.sql.schema import users
from signin.stores.sql.sessions import SqlSessionStore
from signin.stores.sql.users import SqlUserStore
from tests.contract.conftest import _sql_engine
from tests.support import make_settings

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await _sql_engine("postgresql", request, tmp_path)  # emptied, as every contract test
    yield engine
    await engine.dispose()


def _new(name: str) -> NewUser:
    return NewUser(name, name, None, None, "$argon2id$x", 5.0)


def _reads(engine: AsyncEngine) -> PgReads:
    reads = PgReads.shared(engine)
    assert reads is not None
    return reads


def _open_connections(reads: PgReads) -> int:
    return len(reads._slots.free) if reads._slots is not None else 0


async def test_reads_answer_what_sqlalchemy_answers_on_plain_connections(
    engine: AsyncEngine,
) -> None:
    store = SqlUserStore(engine)
    made = await store.create(_new("alice"))
    reads = _reads(engine)
    assert _open_connections(reads) == 0
    fast = await store.by_canon("alice")
    assert _open_connections(reads) == 1  # the read went through pgread, not SQLAlchemy
    assert fast == made == await store._one(users.c.username_canon == "alice")
    assert await store.by_canon("nobody") is None
    assert await store.by_id(made.id) == made  # a check whose facts Redis lost reads this
    assert await store.by_id(made.id + 1) is None


async def test_every_commit_is_seen_by_the_next_read(engine: AsyncEngine) -> None:
    store = SqlUserStore(engine)
    made = await store.create(_new("bob"))
    assert (await store.by_canon("bob")) == made
    await store.set_disabled(made.id, True)
    found = await store.by_canon("bob")
    assert found is not None
    assert found.disabled
    await store.delete(made.id)
    assert await store.by_canon("bob") is None


async def test_sessions_and_factors_read_the_same_way(engine: AsyncEngine) -> None:
    users_store = SqlUserStore(engine)
    user = await users_store.create(_new("carol"))
    sessions = SqlSessionStore(engine)
    digest = hashlib.sha256(b"token").digest()
    record = SessionRecord("s1", user.id, 10.0, 10.0, 9e9, 600, False, "127.0.0.1", "ua")
    await sessions.create(digest, record)
    found = await sessions.lookup(digest)
    assert found is not None
    assert found.session == record
    assert found.username == "carol"
    factors = SqlFactorStore(engine)
    assert await factors.totp(user.id) is None
    await factors.begin_totp(user.id, b"sealed", 20.0)
    totp = await factors.totp(user.id)
    assert totp is not None
    assert (totp.secret, totp.confirmed_at) == (b"sealed", None)
    assert _open_connections(_reads(engine)) >= 1


async def test_the_connections_cannot_write(engine: AsyncEngine) -> None:
    store = SqlUserStore(engine)
    await store.create(_new("dave"))
    reads = _reads(engine)
    answer = await reads.fetch("UPDATE users SET groups = 'admin' RETURNING id", [])
    assert answer is MISS  # read-only transaction: refused by the server
    found = await store.by_canon("dave")
    assert found is not None
    assert found.groups == ()


async def test_a_dropped_connection_steps_aside_then_comes_back(
    engine: AsyncEngine, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlUserStore(engine)
    made = await store.create(_new("erin"))
    reads = _reads(engine)
    assert await store.by_canon("erin") == made
    # The server ends the plain connection (a restart, an idle timeout in a pooler...).
    admin = await asyncpg.connect(pg_database.replace("postgresql+asyncpg", "postgresql"))
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname = current_database()"
            " AND query LIKE 'SELECT users.id%'"
        )
    finally:
        await admin.close()
    assert ended >= 1
    # The next sign-in still finds the user: the read fails, SQLAlchemy answers instead.
    assert await store.by_canon("erin") == made
    assert reads._paused_until > time.monotonic()
    assert await reads.fetch("SELECT 1 AS one", []) is MISS  # paused: straight to SQLAlchemy
    monkeypatch.setattr(reads, "_paused_until", time.monotonic() - 1)
    row = await reads.fetch("SELECT 1 AS one", [])
    assert row is not MISS
    assert row.one == 1


async def test_a_server_that_is_gone_is_still_a_503() -> None:
    # Nothing listens there: both paths fail, and the store says "unavailable" as before.
    gone = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    try:
        with pytest.raises(StoreUnavailable):
            await SqlUserStore(gone).by_canon("frank")
        assert _reads(gone)._paused_until > time.monotonic()
    finally:
        await gone.dispose()


async def test_disposing_of_the_engine_ends_the_connections(engine: AsyncEngine) -> None:
    store = SqlUserStore(engine)
    await store.create(_new("gina"))
    await store.by_canon("gina")
    reads = _reads(engine)
    assert reads._slots is not None
    conn = reads._slots.free[0]
    assert not conn.is_closed()
    await engine.dispose()
    assert conn.is_closed()
    assert reads._slots is None
    assert await store.by_canon("gina") is not None  # and the engine can be used again


async def test_closing_the_services_ends_the_connections(pg_database: str, tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path / "data", database_url=pg_database))
    assert await services.users.by_canon("nobody") is None  # opens one plain connection
    reads = _reads(services.engine)
    assert reads._slots is not None
    conn = reads._slots.free[0]
    from signin.stores.sql.pgwrite import PgWrites

    writes = PgWrites.shared(services.engine)
    assert writes is not None
    assert await writes.fetch("SELECT 1", []) is not None  # opens one writable connection
    assert writes._slots is not None
    written = writes._slots.free[0]
    await services.close()
    assert conn.is_closed()
    assert written.is_closed()


def test_a_new_event_loop_gets_new_connections(pg_database: str) -> None:
    # A connection belongs to the loop it opened on: a read on another loop opens its own and
    # ends the ones left on the first.
    engine = create_engine(pg_database)
    store = SqlUserStore(engine)

    async def read() -> asyncpg.Connection:
        assert await store.by_canon("nobody") is None
        reads = _reads(engine)
        assert reads._slots is not None
        assert reads._slots.loop is asyncio.get_running_loop()
        return reads._slots.free[0]

    first_loop, second_loop = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        first = first_loop.run_until_complete(read())
        second = second_loop.run_until_complete(read())
        assert second is not first
        assert first.is_closed()
        first_loop.run_until_complete(asyncio.sleep(0))  # its transport finishes closing
        second_loop.run_until_complete(engine.dispose())
        assert second.is_closed()
    finally:
        first_loop.close()
        second_loop.close()


async def test_the_writers_write_once_and_a_fault_is_a_503(engine: AsyncEngine) -> None:
    """stores/sql/pgwrite.py: writable, in autocommit, closed with the services; a write that
    fails is never answered as a miss (it may have been applied): StoreUnavailable."""
    from signin.stores.sql.pgwrite import PgWrites

    store = SqlUserStore(engine)
    await store.create(_new("hana"))
    writes = PgWrites.shared(engine)
    assert writes is not None
    assert writes is not _reads(engine)
    row = await writes.fetch(
        "UPDATE users SET groups = 'staff' WHERE username = $1 RETURNING id", ["hana"]
    )
    assert row is not None
    found = await store.by_canon("hana")
    assert found is not None
    assert found.groups == ("staff",)  # committed at once: no transaction left open
    with pytest.raises(StoreUnavailable):
        await writes.fetch("UPDATE no_such_table SET x = 1", [])
    gone = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    try:
        gone_writes = PgWrites.shared(gone)
        assert gone_writes is not None
        with pytest.raises(StoreUnavailable):
            await gone_writes.fetch("SELECT 1", [])
    finally:
        await gone.dispose()
