"""OIDC subjects and consents in SQL: what belongs to a user and lasts beyond any token."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from signin.stores.oidc import ConsentRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.schema import oidc_consents as consents
from signin.stores.sql.schema import oidc_subjects as subjects


def _consent(row: Any) -> ConsentRecord:
    return ConsentRecord(row.user_id, row.client_id, row.scope, row.created_at)


class SqlOidcPeople(SqlStore):
    async def subject(self, user_id: int) -> str:
        query = sa.select(subjects.c.sub).where(subjects.c.user_id == user_id)
        async with self.read() as conn:
            found = (await conn.execute(query)).scalar()
        if found is not None:
            return str(found)
        try:
            async with self.write() as conn:
                await conn.execute(
                    subjects.insert().values(user_id=user_id, sub=secrets.token_hex(16))
                )
        except sa.exc.IntegrityError:
            pass  # another request made it first: read theirs
        async with self.read() as conn:
            return str((await conn.execute(query)).scalar_one())

    async def consent(self, user_id: int, client_id: str) -> ConsentRecord | None:
        async with self.read() as conn:
            row = (
                await conn.execute(
                    sa.select(consents).where(
                        consents.c.user_id == user_id, consents.c.client_id == client_id
                    )
                )
            ).first()
        return _consent(row) if row is not None else None

    async def give_consent(self, record: ConsentRecord) -> None:
        async with self.write() as conn:
            await conn.execute(
                consents.delete().where(
                    consents.c.user_id == record.user_id, consents.c.client_id == record.client_id
                )
            )
            await conn.execute(
                consents.insert().values(
                    user_id=record.user_id,
                    client_id=record.client_id,
                    scope=record.scope,
                    created_at=record.created_at,
                )
            )

    async def withdraw_consent(self, user_id: int, client_id: str) -> bool:
        async with self.write() as conn:
            result = await conn.execute(
                consents.delete().where(
                    consents.c.user_id == user_id, consents.c.client_id == client_id
                )
            )
        return result.rowcount > 0

    async def consents_for_user(self, user_id: int) -> list[ConsentRecord]:
        async with self.read() as conn:
            rows = await conn.execute(
                sa.select(consents)
                .where(consents.c.user_id == user_id)
                .order_by(consents.c.client_id)
            )
            return [_consent(row) for row in rows]
