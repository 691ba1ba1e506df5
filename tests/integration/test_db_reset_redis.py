"""`signin db reset --yes` with Redis: the sessions and user facts kept there go with the accounts
(user ids start again from 1, and must not find the old ones' sessions); fail locks stay."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from signin.stores.redis import connect_redis_stores
from signin.stores.sql.engine import create_engine
from signin.stores.sql.users import SqlUserStore
from tests.backends import flush_redis, fresh_database, need_postgres, need_redis
from tests.contract.test_session_store import digest, record
from tests.contract.test_user_store import new_user
from tests.support import CHEAP_ARGON2_ENV, run_signin

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def test_reset_forgets_sessions_and_facts_keeps_locks(tmp_path: Path) -> None:
    redis_url = need_redis()
    flush_redis(redis_url)
    with fresh_database(need_postgres()) as database_url:
        env = {
            "SIGNIN_DATA_DIR": str(tmp_path / "data"),
            "SIGNIN_DATABASE_URL": database_url,
            "SIGNIN_REDIS_URL": redis_url,
            **CHEAP_ARGON2_ENV,
        }
        migrated = run_signin(env, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        engine = create_engine("postgresql+asyncpg://" + database_url.split("://", 1)[1])
        stores = connect_redis_stores(redis_url, users=SqlUserStore(engine))
        try:
            olga = await stores.users.create(new_user("olga"))
            await stores.sessions.create(digest("t1"), record("s1", olga))
            assert await stores.sessions.lookup(digest("t1")) is not None  # facts kept now
            await stores.locks.reserve("someone", time.time(), 600)

            reset = run_signin(env, "db", "reset", "--yes")
            assert reset.returncode == 0, reset.stderr
            assert "Redis: 3 session and user keys deleted (fail locks kept)" in reset.stdout

            newcomer = await stores.users.create(new_user("newcomer"))
            assert newcomer.id == olga.id  # the id is given again...
            assert await stores.sessions.lookup(digest("t1")) is None  # ...not olga's session
            assert await stores.sessions.list_for_user(newcomer.id) == []
            lock = await stores.locks.get("someone", time.time(), 600)
            assert lock is not None
            assert lock.failures == 1
        finally:
            await stores.close()
            await engine.dispose()
    flush_redis(redis_url)
