"""Fail-lock counters in SQL, reserved by one atomic upsert (SPEC section 5)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from signin.stores.base import LockRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.schema import fail_locks


class SqlLockStore(SqlStore):
    async def reserve(self, key: str, now: float, window: int) -> int:
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(fail_locks)
        stale = fail_locks.c.last_attempt <= now - window
        stmt = (
            insert.values(key=key, failures=1, last_attempt=now)
            .on_conflict_do_update(
                index_elements=[fail_locks.c.key],
                set_={
                    "failures": sa.case((stale, 1), else_=fail_locks.c.failures + 1),
                    "last_attempt": now,
                },
            )
            .returning(fail_locks.c.failures)
        )
        async with self.write() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def clear(self, key: str) -> bool:
        async with self.write() as conn:
            result = await conn.execute(fail_locks.delete().where(fail_locks.c.key == key))
        return result.rowcount > 0

    async def release(self, key: str) -> None:
        async with self.write() as conn:
            await conn.execute(
                fail_locks.update()
                .where(fail_locks.c.key == key, fail_locks.c.failures > 0)
                .values(failures=fail_locks.c.failures - 1)
            )

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
