"""Users in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from signin.stores.base import DuplicateUser, NewUser, UserRecord
from signin.stores.sql.base import SqlStore
from signin.stores.sql.engine import is_unique_violation
from signin.stores.sql.lite import groups_of, groups_text
from signin.stores.sql.reads import MISS, PointReader, point_reader
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
    users.c.groups,
    users.c.language,
)


def insert_user(user: NewUser) -> sa.Insert:
    """The INSERT for a new account, returning its row (shared with the invite store)."""
    return (
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
            groups=groups_text(user.groups),
            language=user.language,
        )
        .returning(*_COLUMNS)
    )


def duplicate_field(exc: sa.exc.IntegrityError) -> str:
    # A taken skeleton is a taken username (a look-alike of one): SPEC section 16.
    return "email" if is_unique_violation(exc) == "email_canon" else "username"


def user_record(row: Any) -> UserRecord:
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
        groups=groups_of(row.groups),
        language=row.language,
    )


class SqlUserStore(SqlStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        by_canon = sa.select(*_COLUMNS).where(users.c.username_canon == sa.bindparam("canon"))
        self._fast = point_reader(self.engine, by_canon)
        # With Redis, a check whose user's facts are not cached reads the user by id.
        by_id = sa.select(*_COLUMNS).where(users.c.id == sa.bindparam("user_id"))
        self._fast_by_id = point_reader(self.engine, by_id)

    async def create(self, user: NewUser) -> UserRecord:
        try:
            async with self.write() as conn:
                row = (await conn.execute(insert_user(user))).one()
        except sa.exc.IntegrityError as exc:
            raise DuplicateUser(duplicate_field(exc)) from None
        return user_record(row)

    async def _one(self, where: sa.ColumnElement[bool]) -> UserRecord | None:
        async with self.read() as conn:
            row = (await conn.execute(sa.select(*_COLUMNS).where(where))).first()
        return user_record(row) if row is not None else None

    async def _point(
        self, reader: PointReader | None, where: sa.ColumnElement[bool], **params: Any
    ) -> UserRecord | None:
        """`reader`'s answer (stores/sql/reads.py), else the same read through SQLAlchemy."""
        row = await reader.read(**params) if reader is not None else MISS
        if row is MISS:
            return await self._one(where)
        return user_record(row) if row is not None else None

    async def by_id(self, user_id: int) -> UserRecord | None:
        return await self._point(self._fast_by_id, users.c.id == user_id, user_id=user_id)

    async def by_canon(self, username_canon: str) -> UserRecord | None:
        # Every sign-in starts here: it skips SQLAlchemy's async layer (stores/sql/reads.py).
        where = users.c.username_canon == username_canon
        return await self._point(self._fast, where, canon=username_canon)

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

    async def set_language(self, user_id: int, language: str) -> None:
        async with self.write() as conn:
            await conn.execute(
                users.update()
                .where(users.c.id == user_id, users.c.language.is_distinct_from(language))
                .values(language=language)
            )

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

    async def search(self, text: str, limit: int = 100) -> list[UserRecord]:
        """Users whose canon name or canon email contains `text` (already canon), by name."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = sa.or_(
            users.c.username_canon.like(pattern, escape="\\"),
            users.c.email_canon.like(pattern, escape="\\"),
        )
        async with self.read() as conn:
            rows = await conn.execute(
                sa.select(*_COLUMNS).where(matches).order_by(users.c.username_canon).limit(limit)
            )
        return [user_record(row) for row in rows]

    async def delete(self, user_id: int) -> bool:
        async with self.write() as conn:
            result = await conn.execute(users.delete().where(users.c.id == user_id))
        return result.rowcount > 0

    async def list(self, limit: int = 1000, offset: int = 0) -> list[UserRecord]:
        async with self.read() as conn:
            rows = await conn.execute(
                sa.select(*_COLUMNS).order_by(users.c.id).limit(limit).offset(offset)
            )
        return [user_record(row) for row in rows]

    async def change_groups(
        self, user_id: int, add: Sequence[str], remove: Sequence[str]
    ) -> tuple[str, ...]:
        select = sa.select(users.c.groups).where(users.c.id == user_id)
        if self.dialect == "postgresql":
            select = select.with_for_update()  # SQLite: write() holds the database lock
        async with self.write() as conn:
            current = (await conn.execute(select)).scalar_one_or_none()
            if current is None:
                return ()
            names = (set(groups_of(current)) | set(add)) - set(remove)
            await conn.execute(
                users.update().where(users.c.id == user_id).values(groups=groups_text(names))
            )
        return tuple(sorted(names))
