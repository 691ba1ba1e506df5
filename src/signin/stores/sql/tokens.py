"""One-time tokens in SQL: looked up by SHA-256, used by one atomic conditional UPDATE."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from signin.stores.base import TokenRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.schema import one_time_tokens as tokens


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        token_hash=bytes(row.token_hash),
        purpose=row.purpose,
        user_id=row.user_id,
        stamp=row.stamp,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class SqlTokenStore(SqlStore):
    async def add(self, record: TokenRecord) -> None:
        async with self.write() as conn:
            await conn.execute(
                tokens.insert().values(
                    token_hash=record.token_hash,
                    purpose=record.purpose,
                    user_id=record.user_id,
                    stamp=record.stamp,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    used_at=record.used_at,
                )
            )

    async def get(self, token_hash: bytes) -> TokenRecord | None:
        async with self.read() as conn:
            row = (
                await conn.execute(sa.select(tokens).where(tokens.c.token_hash == token_hash))
            ).first()
        return _record(row) if row is not None else None

    async def use(self, token_hash: bytes, purpose: str, now: float) -> bool:
        # One statement: of two concurrent redemptions exactly one sees a row change.
        async with self.write() as conn:
            result = await conn.execute(
                tokens.update()
                .where(
                    tokens.c.token_hash == token_hash,
                    tokens.c.purpose == purpose,
                    tokens.c.used_at.is_(None),
                    tokens.c.expires_at > now,
                )
                .values(used_at=now)
            )
        return result.rowcount == 1

    async def purge(self, before: float) -> int:
        async with self.write() as conn:
            result = await conn.execute(tokens.delete().where(tokens.c.expires_at < before))
        return result.rowcount
