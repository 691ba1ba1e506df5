"""Passkeys and answered passkey challenges in SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from signin.stores.base import DuplicatePasskey, PasskeyRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.schema import passkey_challenges as challenges
from signin.stores.sql.schema import passkeys


def _record(row: Any) -> PasskeyRecord:
    return PasskeyRecord(
        id=row.id,
        user_id=row.user_id,
        credential_id=bytes(row.credential_id),
        public_key=bytes(row.public_key),
        sign_count=int(row.sign_count),
        user_handle=bytes(row.user_handle),
        name=row.name,
        transports=tuple(item for item in row.transports.split(",") if item),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


class SqlPasskeyStore(SqlStore):
    async def add(
        self,
        *,
        user_id: int,
        credential_id: bytes,
        public_key: bytes,
        sign_count: int,
        user_handle: bytes,
        name: str,
        transports: tuple[str, ...],
        now: float,
    ) -> PasskeyRecord:
        stmt = (
            passkeys.insert()
            .values(
                user_id=user_id,
                credential_id=credential_id,
                public_key=public_key,
                sign_count=sign_count,
                user_handle=user_handle,
                name=name,
                transports=",".join(transports),
                created_at=now,
                last_used_at=None,
            )
            .returning(*passkeys.c)
        )
        try:
            async with self.write() as conn:
                row = (await conn.execute(stmt)).one()
        except sa.exc.IntegrityError as exc:
            if "credential_id" in str(exc.orig).lower():
                raise DuplicatePasskey() from None
            raise
        return _record(row)

    async def by_credential_id(self, credential_id: bytes) -> PasskeyRecord | None:
        async with self.read() as conn:
            row = (
                await conn.execute(
                    sa.select(passkeys).where(passkeys.c.credential_id == credential_id)
                )
            ).first()
        return _record(row) if row is not None else None

    async def list_for_user(self, user_id: int) -> list[PasskeyRecord]:
        async with self.read() as conn:
            rows = await conn.execute(
                sa.select(passkeys).where(passkeys.c.user_id == user_id).order_by(passkeys.c.id)
            )
        return [_record(row) for row in rows]

    async def user_handle(self, user_id: int) -> bytes | None:
        async with self.read() as conn:
            value = await conn.scalar(
                sa.select(passkeys.c.user_handle)
                .where(passkeys.c.user_id == user_id)
                .order_by(passkeys.c.id)
                .limit(1)
            )
        return bytes(value) if value is not None else None

    async def record_use(
        self, passkey_id: int, seen_count: int, new_count: int, now: float
    ) -> bool:
        # One conditional UPDATE: two assertions that both saw `seen_count` cannot both pass.
        async with self.write() as conn:
            result = await conn.execute(
                passkeys.update()
                .where(passkeys.c.id == passkey_id, passkeys.c.sign_count == seen_count)
                .values(sign_count=new_count, last_used_at=now)
            )
        return result.rowcount == 1

    async def delete(self, user_id: int, passkey_id: int) -> bool:
        async with self.write() as conn:
            result = await conn.execute(
                passkeys.delete().where(passkeys.c.id == passkey_id, passkeys.c.user_id == user_id)
            )
        return result.rowcount > 0


class SqlChallengeStore(SqlStore):
    async def consume(self, challenge_id: str, expires_at: float) -> bool:
        # The primary key decides: of two answers to one challenge exactly one inserts.
        try:
            async with self.write() as conn:
                await conn.execute(
                    challenges.insert().values(id=challenge_id, expires_at=expires_at)
                )
        except sa.exc.IntegrityError:
            return False
        return True

    async def purge(self, now: float) -> int:
        async with self.write() as conn:
            result = await conn.execute(challenges.delete().where(challenges.c.expires_at < now))
        return result.rowcount
