"""Users in SQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from signin.stores.base import DuplicateUser, NewUser, UserRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.engine import is_unique_violation
from signin.stores.sql.fastread import MISS, FastReader
from signin.stores.sql.schema import users

_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.username_canon,
    users.c.email,
    users.c.email_verified_at,
    users.c.password_hash,
    users.c.created_at,
    users.c.password_changed_at,
    users.c.disabled,
)


def _record(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        username_canon=row.username_canon,
        email=row.email,
        email_verified=row.email_verified_at is not None,
        password_hash=row.password_hash,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        disabled=bool(row.disabled),
    )


class SqlUserStore(SqlStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        by_canon = sa.select(*_COLUMNS).where(users.c.username_canon == sa.bindparam("canon"))
        self._fast = FastReader(self.engine, by_canon) if FastReader.usable(self.engine) else None

    async def create(self, user: NewUser) -> UserRecord:
        stmt = (
            users.insert()
            .values(
                username=user.username,
                username_canon=user.username_canon,
                username_skeleton=user.username_skeleton,
                email=user.email,
                email_canon=user.email_canon,
                password_hash=user.password_hash,
                created_at=user.created_at,
                password_changed_at=user.created_at,
                disabled=False,
            )
            .returning(*_COLUMNS)
        )
        try:
            async with self.write() as conn:
                row = (await conn.execute(stmt)).one()
        except sa.exc.IntegrityError as exc:
            column = is_unique_violation(exc)
            # A taken skeleton is a taken username (a look-alike of one): SPEC section 16.
            raise DuplicateUser("email" if column == "email_canon" else "username") from None
        return _record(row)

    async def _one(self, where: sa.ColumnElement[bool]) -> UserRecord | None:
        async with self.read() as conn:
            row = (await conn.execute(sa.select(*_COLUMNS).where(where))).first()
        return _record(row) if row is not None else None

    async def by_id(self, user_id: int) -> UserRecord | None:
        return await self._one(users.c.id == user_id)

    async def by_canon(self, username_canon: str) -> UserRecord | None:
        # Every sign-in starts here: on SQLite it skips the async driver (see fastread.py).
        if self._fast is not None:
            row = self._fast.fetch(canon=username_canon)
            if row is not MISS:
                return _record(row) if row is not None else None
        return await self._one(users.c.username_canon == username_canon)

    async def by_email(self, email_canon: str) -> UserRecord | None:
        return await self._one(users.c.email_canon == email_canon)

    async def skeleton_taken(self, username_skeleton: str) -> bool:
        async with self.read() as conn:
            found = await conn.execute(
                sa.select(users.c.id).where(users.c.username_skeleton == username_skeleton)
            )
            return found.first() is not None

    async def set_password_hash(
        self, user_id: int, password_hash: str, changed_at: float, *, rehash_only: bool = False
    ) -> None:
        values: dict[str, Any] = {"password_hash": password_hash}
        if not rehash_only:
            values["password_changed_at"] = changed_at
        async with self.write() as conn:
            await conn.execute(users.update().where(users.c.id == user_id).values(**values))

    async def set_disabled(self, user_id: int, disabled: bool) -> None:
        async with self.write() as conn:
            await conn.execute(
                users.update().where(users.c.id == user_id).values(disabled=disabled)
            )

    async def set_email_verified(self, user_id: int, email: str, now: float) -> bool:
        """Mark `email` verified if it is still the user's address; False otherwise."""
        async with self.write() as conn:
            result = await conn.execute(
                users.update()
                .where(users.c.id == user_id, users.c.email == email)
                .values(email_verified_at=now)
            )
        return result.rowcount > 0

    async def delete(self, user_id: int) -> bool:
        async with self.write() as conn:
            result = await conn.execute(users.delete().where(users.c.id == user_id))
        return result.rowcount > 0

    async def list(self, limit: int = 1000, offset: int = 0) -> list[UserRecord]:
        async with self.read() as conn:
            rows = await conn.execute(
                sa.select(*_COLUMNS).order_by(users.c.id).limit(limit).offset(offset)
            )
        return [_record(row) for row in rows]
