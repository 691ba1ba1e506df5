"""TOTP factors and recovery codes in SQL (both SQLite and PostgreSQL).

Each "use" is one conditional UPDATE, so of two requests racing with one code exactly one sees
its row change: a time step is used once per account, a recovery code once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from signin.stores.base import TotpRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.reads import MISS, point_reader
from signin.stores.sql.schema import recovery_codes as codes
from signin.stores.sql.schema import totp_factors as factors


def _record(row: Any) -> TotpRecord:
    return TotpRecord(
        user_id=row.user_id,
        secret=bytes(row.secret),
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        last_step=row.last_step,
    )


def _code_rows(user_id: int, code_hashes: Sequence[bytes], now: float) -> list[dict[str, Any]]:
    return [{"code_hash": h, "user_id": user_id, "created_at": now} for h in code_hashes]


class SqlFactorStore(SqlStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read on every sign-in ("is a second step due?"): past SQLAlchemy's async layer.
        self._by_user = sa.select(factors).where(factors.c.user_id == sa.bindparam("user_id"))
        self._fast = point_reader(self.engine, self._by_user)

    async def totp(self, user_id: int) -> TotpRecord | None:
        row = await self._fast.read(user_id=user_id) if self._fast else MISS
        if row is MISS:
            async with self.read() as conn:
                row = (await conn.execute(self._by_user, {"user_id": user_id})).first()
        return _record(row) if row is not None else None

    async def begin_totp(self, user_id: int, secret: bytes, now: float) -> None:
        async with self.write() as conn:
            await conn.execute(
                factors.delete().where(
                    factors.c.user_id == user_id, factors.c.confirmed_at.is_(None)
                )
            )
            # A confirmed factor makes this insert fail (primary key): the caller checks first.
            await conn.execute(
                factors.insert().values(user_id=user_id, secret=secret, created_at=now)
            )

    async def confirm_totp(
        self, user_id: int, step: int, now: float, code_hashes: Sequence[bytes]
    ) -> bool:
        async with self.write() as conn:
            result = await conn.execute(
                factors.update()
                .where(factors.c.user_id == user_id, factors.c.confirmed_at.is_(None))
                .values(confirmed_at=now, last_step=step)
            )
            if result.rowcount != 1:
                return False
            await conn.execute(codes.delete().where(codes.c.user_id == user_id))
            if code_hashes:
                await conn.execute(codes.insert(), _code_rows(user_id, code_hashes, now))
        return True

    async def use_step(self, user_id: int, step: int) -> bool:
        async with self.write() as conn:
            result = await conn.execute(
                factors.update()
                .where(
                    factors.c.user_id == user_id,
                    factors.c.confirmed_at.is_not(None),
                    sa.or_(factors.c.last_step.is_(None), factors.c.last_step < step),
                )
                .values(last_step=step)
            )
        return result.rowcount == 1

    async def reseal_totp(self, user_id: int, secret: bytes) -> None:
        async with self.write() as conn:
            await conn.execute(
                factors.update().where(factors.c.user_id == user_id).values(secret=secret)
            )

    async def replace_recovery(
        self, user_id: int, code_hashes: Sequence[bytes], now: float
    ) -> None:
        async with self.write() as conn:
            await conn.execute(codes.delete().where(codes.c.user_id == user_id))
            if code_hashes:
                await conn.execute(codes.insert(), _code_rows(user_id, code_hashes, now))

    async def use_recovery(self, user_id: int, code_hashes: Sequence[bytes], now: float) -> bool:
        if not code_hashes:
            return False
        async with self.write() as conn:
            result = await conn.execute(
                codes.update()
                .where(
                    codes.c.user_id == user_id,
                    codes.c.code_hash.in_(list(code_hashes)),
                    codes.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
        return result.rowcount >= 1

    async def recovery_left(self, user_id: int) -> int:
        async with self.read() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(codes)
                .where(codes.c.user_id == user_id, codes.c.used_at.is_(None))
            )
        return int(count or 0)

    async def remove(self, user_id: int) -> bool:
        async with self.write() as conn:
            await conn.execute(codes.delete().where(codes.c.user_id == user_id))
            result = await conn.execute(factors.delete().where(factors.c.user_id == user_id))
        return result.rowcount == 1
