"""Fail-lock counters in SQL, reserved by one atomic upsert (SPEC section 5)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from signin.stores.base import LockRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.fastwrite import FastWriter
from signin.stores.sql.schema import fail_locks

_KEY: sa.BindParameter[str] = sa.bindparam("b_key")


class SqlLockStore(SqlStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built once with bind parameters: these run on every sign-in attempt.
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(fail_locks)
        stale = fail_locks.c.last_attempt <= sa.bindparam("b_cutoff")
        self._reserve = (
            insert.values(key=_KEY, failures=1, last_attempt=sa.bindparam("b_now"))
            .on_conflict_do_update(
                index_elements=[fail_locks.c.key],
                set_={
                    "failures": sa.case((stale, 1), else_=fail_locks.c.failures + 1),
                    "last_attempt": sa.bindparam("b_now"),
                },
            )
            .returning(fail_locks.c.failures)
        )
        self._clear = fail_locks.delete().where(fail_locks.c.key == _KEY)
        self._release = (
            fail_locks.update()
            .where(fail_locks.c.key == _KEY, fail_locks.c.failures > 0)
            .values(failures=fail_locks.c.failures - 1)
        )
        # SQLite: these writes skip the async driver (stores/sql/fastwrite.py explains why).
        self._fast = FastWriter(self.engine) if FastWriter.usable(self.engine) else None
        if self._fast is not None:
            self._sql = {
                name: self._fast.compile(stmt)
                for name, stmt in (
                    ("reserve", self._reserve),
                    ("clear", self._clear),
                    ("release", self._release),
                )
            }

    async def reserve(self, key: str, now: float, window: int) -> int:
        params = {"b_key": key, "b_now": now, "b_cutoff": now - window}
        if self._fast is not None:
            return int((await self._fast.run(self._sql["reserve"], **params)).rows[0][0])
        async with self.write() as conn:
            return int((await conn.execute(self._reserve, params)).scalar_one())

    async def clear(self, key: str) -> bool:
        if self._fast is not None:
            return (await self._fast.run(self._sql["clear"], b_key=key)).rowcount > 0
        async with self.write() as conn:
            result = await conn.execute(self._clear, {"b_key": key})
        return result.rowcount > 0

    async def release(self, key: str) -> None:
        if self._fast is not None:
            await self._fast.run(self._sql["release"], b_key=key)
            return
        async with self.write() as conn:
            await conn.execute(self._release, {"b_key": key})

    async def get(self, key: str, now: float, window: int) -> LockRecord | None:
        async with self.read() as conn:
            row = (
                await conn.execute(
                    sa.select(fail_locks).where(
                        fail_locks.c.key == key, fail_locks.c.last_attempt > now - window
                    )
                )
            ).first()
        return LockRecord(row.key, row.failures, row.last_attempt) if row is not None else None

    async def list(self, now: float, window: int) -> list[LockRecord]:
        async with self.read() as conn:
            rows = await conn.execute(
                sa.select(fail_locks)
                .where(fail_locks.c.last_attempt > now - window)
                .order_by(fail_locks.c.last_attempt.desc())
            )
        return [LockRecord(row.key, row.failures, row.last_attempt) for row in rows]

    async def purge(self, now: float, window: int) -> int:
        async with self.write() as conn:
            result = await conn.execute(
                fail_locks.delete().where(fail_locks.c.last_attempt <= now - window)
            )
        return result.rowcount
