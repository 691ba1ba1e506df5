"""Sign-up invites in SQL: looked up by SHA-256, used by one conditional UPDATE.

`create_user` uses the invite and inserts the account in one transaction: of two sign-ups racing
for the last use, the second UPDATE finds no use left (PostgreSQL re-checks the locked row,
SQLite runs one writer at a time), so exactly one account is made, and a sign-up that fails on a
taken name rolls its use back with it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from signin.stores.base import DuplicateUser, InviteRecord, NewUser, UserRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.lite import groups_of, groups_text
from signin.stores.sql.schema import invites
from signin.stores.sql.users import duplicate_field, insert_user, user_record


def _record(row: Any) -> InviteRecord:
    return InviteRecord(
        id=row.id,
        email=row.email,
        groups=groups_of(row.groups),
        max_uses=row.max_uses,
        uses=row.uses,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class SqlInviteStore(SqlStore):
    async def add(self, token_hash: bytes, record: InviteRecord, email_canon: str | None) -> None:
        async with self.write() as conn:
            await conn.execute(
                invites.insert().values(
                    id=record.id,
                    token_hash=token_hash,
                    email=record.email,
                    email_canon=email_canon,
                    groups=groups_text(record.groups),
                    max_uses=record.max_uses,
                    uses=record.uses,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    revoked_at=record.revoked_at,
                )
            )

    async def get(self, token_hash: bytes) -> tuple[InviteRecord, str | None] | None:
        async with self.read() as conn:
            row = (
                await conn.execute(sa.select(invites).where(invites.c.token_hash == token_hash))
            ).first()
        return (_record(row), row.email_canon) if row is not None else None

    async def list(self) -> list[InviteRecord]:
        async with self.read() as conn:
            rows = await conn.execute(sa.select(invites).order_by(invites.c.created_at))
        return [_record(row) for row in rows]

    async def revoke(self, invite_id: str, now: float) -> bool:
        async with self.write() as conn:
            result = await conn.execute(
                invites.update()
                .where(invites.c.id == invite_id, invites.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return result.rowcount == 1

    async def create_user(self, token_hash: bytes, user: NewUser, now: float) -> UserRecord | None:
        use = (
            invites.update()
            .where(
                invites.c.token_hash == token_hash,
                invites.c.uses < invites.c.max_uses,
                invites.c.revoked_at.is_(None),
                invites.c.expires_at > now,
            )
            .values(uses=invites.c.uses + 1)
            .returning(invites.c.groups)
        )
        try:
            async with self.write() as conn:
                used = (await conn.execute(use)).first()
                if used is None:
                    return None
                groups = set(user.groups) | set(groups_of(used.groups))
                row = (
                    await conn.execute(insert_user(replace(user, groups=tuple(sorted(groups)))))
                ).one()
        except sa.exc.IntegrityError as exc:
            raise DuplicateUser(duplicate_field(exc)) from None
        return user_record(row)
