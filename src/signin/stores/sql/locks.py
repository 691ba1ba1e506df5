"""Fail-lock counters in SQL, reserved by one atomic upsert per key (SPEC section 5).

`reserve_all` and `settle` write several keys in one transaction: one round trip per sign-in
attempt and one per outcome, on the writer thread for a SQLite file (fastwrite.py) or one
pooled transaction otherwise. On PostgreSQL each upsert locks its row until the commit, so the
order of the rows matters: see `LockStore.settle` for why settle releases before it clears,
and `purge` for why it skips rows that a reservation holds.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from signin.stores.base import LockRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.engine import upsert
from signin.stores.sql.fastwrite import FastWriter, Outcome
from signin.stores.sql.schema import fail_locks

_KEY: sa.BindParameter[str] = sa.bindparam("b_key")
NO_LIMIT = sys.maxsize  # `reserve` of one key: never stop early
# Rows of keys with one failure kept at most (SPEC section 16): a flood of random usernames
# writes one such row per name, and each row is kept for the whole window.
MAX_SINGLE_FAILURE_ROWS = 100_000


class SqlLockStore(SqlStore):
    def __init__(
        self, *args: Any, max_single_failure_rows: int = MAX_SINGLE_FAILURE_ROWS, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_single_failure_rows = max_single_failure_rows
        # Built once with bind parameters: these run on every sign-in attempt.
        insert = upsert(self.dialect, fail_locks)
        stale = fail_locks.c.last_attempt <= sa.bindparam("b_cutoff")
        reserve = (
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
        self._statements: dict[str, sa.UpdateBase] = {
            "reserve": reserve,
            "clear": fail_locks.delete().where(fail_locks.c.key == _KEY),
            "release": (
                fail_locks.update()
                .where(fail_locks.c.key == _KEY, fail_locks.c.failures > 0)
                .values(failures=fail_locks.c.failures - 1)
            ),
        }
        # SQLite: these writes skip the async driver (stores/sql/fastwrite.py explains why).
        self._fast = FastWriter.shared(self.engine)
        if self._fast is not None:
            self._sql = {name: self._fast.compile(stmt) for name, stmt in self._statements.items()}

    async def reserve(self, key: str, now: float, window: int) -> int:
        return (await self.reserve_all([(key, NO_LIMIT)], now, window))[0]

    async def reserve_all(
        self, keys: Sequence[tuple[str, int]], now: float, window: int
    ) -> list[int]:
        if not keys:
            return []
        times = {"b_now": now, "b_cutoff": now - window}
        limits = [limit for _, limit in keys]
        if self._fast is not None:

            def passed(index: int, outcome: Outcome) -> bool:
                return int(outcome.rows[0][0]) > limits[index]

            steps = [(self._sql["reserve"], {**times, "b_key": key}) for key, _ in keys]
            outcomes = await self._fast.run_all(steps, stop=passed)
            return [int(outcome.rows[0][0]) for outcome in outcomes]
        counts: list[int] = []
        async with self.write() as conn:
            for key, limit in keys:
                result = await conn.execute(self._statements["reserve"], {**times, "b_key": key})
                counts.append(int(result.scalar_one()))
                if counts[-1] > limit:
                    break
        return counts

    async def settle(self, *, release: Sequence[str] = (), clear: Sequence[str] = ()) -> None:
        writes = [("release", key) for key in release] + [("clear", key) for key in clear]
        if not writes:
            return
        if self._fast is not None:
            await self._fast.run_all([(self._sql[name], {"b_key": key}) for name, key in writes])
            return
        async with self.write() as conn:
            for name, key in writes:
                await conn.execute(self._statements[name], {"b_key": key})

    async def clear(self, key: str) -> bool:
        if self._fast is not None:
            return (await self._fast.run(self._sql["clear"], {"b_key": key})).rowcount > 0
        async with self.write() as conn:
            result = await conn.execute(self._statements["clear"], {"b_key": key})
        return result.rowcount > 0

    async def release(self, key: str) -> None:
        await self.settle(release=(key,))

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
        """Delete the rows of expired keys; on PostgreSQL, not those a transaction holds.

        A reservation of two stale keys holds the first row while it waits for the second; a
        plain DELETE could hold the second while it waits for the first, and PostgreSQL would
        abort one of them as a deadlock. Skipping locked rows, purge never waits: what it skips
        is being written, so not expired, or expired and deleted by a later purge.
        """
        expired = fail_locks.c.last_attempt <= now - window
        if self.dialect == "postgresql":
            free = sa.select(fail_locks.c.key).where(expired).with_for_update(skip_locked=True)
            expired = fail_locks.c.key.in_(free)
        async with self.write() as conn:
            result = await conn.execute(fail_locks.delete().where(expired))
        return result.rowcount + await self._trim()

    async def _trim(self) -> int:
        """Bound the rows of one-failure keys: past the bound, forget the oldest ones.

        Such a key is far from any lock; forgetting it forgives one failure at most. Keys with
        more failures, locked keys above all, are never trimmed, so a flood of random names
        costs bounded space without lifting anyone's lock.
        """
        single = fail_locks.c.failures <= 1
        async with self.read() as conn:
            count = (await conn.execute(sa.select(sa.func.count()).where(single))).scalar_one()
        excess = count - self.max_single_failure_rows
        if excess <= 0:
            return 0
        oldest = (
            sa.select(fail_locks.c.key)
            .where(single)
            .order_by(fail_locks.c.last_attempt)
            .limit(excess)
        )
        if self.dialect == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)  # as `purge`: never wait on a row
        async with self.write() as conn:
            result = await conn.execute(
                fail_locks.delete().where(single, fail_locks.c.key.in_(oldest.scalar_subquery()))
            )
        return result.rowcount
