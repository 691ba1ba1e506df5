"""Every store implementation behind one fixture per protocol, so one test class checks them all.

SQLite runs always; PostgreSQL and Redis run when their servers answer (see tests/backends.py).
Each test starts from an empty store: a new SQLite file, a PostgreSQL database whose tables are
truncated (identities restarted), or a Redis key prefix of its own that is deleted afterwards.
"""

from __future__ import annotations

import concurrent.futures
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores import migrate
from signin.stores.base import LockStore, SessionStore, UserStore
from signin.stores.redis import RedisStores, connect_redis_stores
from signin.stores.sql.engine import create_engine
from signin.stores.sql.locks import SqlLockStore
from signin.stores.sql.schema import metadata
from signin.stores.sql.sessions import SqlSessionStore
from signin.stores.sql.users import SqlUserStore
from tests.backends import fresh_database, need_postgres, need_redis
from tests.support import sqlite_template as support_template

POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.postgres)
SQL_BACKENDS = ["sqlite", POSTGRESQL]
ALL_BACKENDS = ["sqlite", POSTGRESQL, pytest.param("redis", marks=pytest.mark.redis)]


def asyncpg_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One fresh PostgreSQL database for the contract tests, migrated by Alembic."""
    with fresh_database(need_postgres()) as url:
        # Requested from inside async fixtures: Alembic's own event loop needs a thread.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(migrate.upgrade, asyncpg_url(url)).result(timeout=60)
        yield asyncpg_url(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated by Alembic (tests/support.py: one per process)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(support_template).result(timeout=60)


async def _sql_engine(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncEngine:
    if kind == "postgresql":
        engine = create_engine(request.getfixturevalue("pg_database"))
        tables = ", ".join(table.name for table in metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return engine
    # A copy of one migrated file: as fresh as a new migration, without its cost per test.
    shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "contract.db")
    return create_engine(f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}")


@dataclass
class Backend:
    """One implementation under test, with the SQL user store every session needs."""

    kind: str
    users: UserStore
    store: Any


async def _redis_stores(users: UserStore) -> RedisStores:
    url = need_redis()
    return connect_redis_stores(url, users=users, prefix=f"signin-test-{secrets.token_hex(6)}:")


async def _drop_prefix(stores: RedisStores) -> None:
    client = stores.locks.client
    keys = [key async for key in stores.locks.scan_keys(stores.locks.prefix)]
    if keys:
        await client.delete(*keys)
    await stores.close()


@pytest.fixture(params=SQL_BACKENDS)
async def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await _sql_engine(request.param, request, tmp_path)
    yield engine
    await engine.dispose()


@pytest.fixture
def user_store(sql_engine: AsyncEngine) -> UserStore:
    return SqlUserStore(sql_engine)


@asynccontextmanager
async def _backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pick: Callable[[RedisStores | None, AsyncEngine], Any],
) -> AsyncIterator[Backend]:
    """A store of the parametrised kind and its user store; Redis stores read users from SQL."""
    kind: str = request.param
    if kind == "redis":
        need_redis()
    engine = await _sql_engine(
        "postgresql" if kind == "postgresql" else "sqlite", request, tmp_path
    )
    users: UserStore = SqlUserStore(engine)
    redis_stores = await _redis_stores(users) if kind == "redis" else None
    if redis_stores is not None:
        users = redis_stores.users  # as build_services wires it: writes end the user's facts
    try:
        yield Backend(kind, users, pick(redis_stores, engine))
    finally:
        if redis_stores is not None:
            await _drop_prefix(redis_stores)
        await engine.dispose()


@pytest.fixture(params=ALL_BACKENDS)
async def sessions_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Backend]:
    def pick(redis: RedisStores | None, engine: AsyncEngine) -> SessionStore:
        return redis.sessions if redis else SqlSessionStore(engine)

    async with _backend(request, tmp_path, pick) as backend:
        yield backend


@pytest.fixture(params=ALL_BACKENDS)
async def locks_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    def pick(redis: RedisStores | None, engine: AsyncEngine) -> LockStore:
        return redis.locks if redis else SqlLockStore(engine)

    async with _backend(request, tmp_path, pick) as backend:
        yield backend
