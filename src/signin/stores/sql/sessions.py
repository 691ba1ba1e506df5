"""Sessions in SQL: looked up by the SHA-256 of the cookie token, never by the token itself."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from signin.stores.base import SessionRecord, SessionUser
from signin.stores.sql.base import SqlStore
from signin.stores.sql.fastwrite import FastWriter
from signin.stores.sql.lite import groups_of
from signin.stores.sql.reads import MISS, point_reader
from signin.stores.sql.schema import sessions, users

_COLUMNS = (
    sessions.c.id,
    sessions.c.user_id,
    sessions.c.created_at,
    sessions.c.last_seen,
    sessions.c.expires_at,
    sessions.c.idle_seconds,
    sessions.c.remember,
    sessions.c.ip,
    sessions.c.user_agent,
    sessions.c.two_factor,
)


def _record(row: Any) -> SessionRecord:
    """A row that starts with `_COLUMNS`, read by position: on the session check, the
    attribute lookups and keywords of the by-name version cost as much as SQLite's lookup."""
    (id_, user_id, created_at, last_seen, expires_at, idle, remember, ip, agent, two_factor) = row[
        :10
    ]
    return SessionRecord(
        id_,
        user_id,
        created_at,
        last_seen,
        expires_at,
        idle,
        bool(remember),
        ip,
        agent,
        bool(two_factor),
    )


class SqlSessionStore(SqlStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Compiled once: the session check is the hottest path of the service.
        self._lookup = (
            sa.select(
                *_COLUMNS,
                users.c.username,
                users.c.email,
                users.c.email_verified_at,
                users.c.disabled,
                users.c.groups,  # forward-auth rules need them on every check
            )
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == sa.bindparam("token_hash"))
        )
        # The lookup skips SQLAlchemy's async layer (stores/sql/reads.py explains why).
        self._fast = point_reader(self.engine, self._lookup)
        # Built once too: a session is written on every sign-in, on each request that finds its
        # last_seen stale, and on every sign-out. On a SQLite file these writes go through the
        # engine's writer thread, committed with synchronous=FULL (stores/sql/fastwrite.py).
        token = sessions.c.token_hash == sa.bindparam("b_token_hash")
        self._writes: dict[str, sa.UpdateBase] = {
            "create": sessions.insert().values(
                {column.name: sa.bindparam(f"b_{column.name}") for column in sessions.c}
            ),
            "touch": sessions.update().where(token).values(last_seen=sa.bindparam("b_now")),
            "delete": sessions.delete().where(token),
        }
        self._fast_writer = writer = FastWriter.shared(self.engine)
        if writer is not None:
            self._sql = {name: writer.compile(stmt) for name, stmt in self._writes.items()}

    async def _write(self, name: str, **params: Any) -> None:
        if self._fast_writer is not None:
            await self._fast_writer.run(self._sql[name], params, durable=True)
            return
        async with self.write() as conn:
            await conn.execute(self._writes[name], params)

    async def create(self, token_hash: bytes, record: SessionRecord) -> None:
        await self._write(
            "create",
            b_token_hash=token_hash,
            b_id=record.id,
            b_user_id=record.user_id,
            b_created_at=record.created_at,
            b_last_seen=record.last_seen,
            b_expires_at=record.expires_at,
            b_idle_seconds=record.idle_seconds,
            b_remember=record.remember,
            b_ip=record.ip,
            b_user_agent=record.user_agent,
            b_two_factor=record.two_factor,
        )

    async def lookup(self, token_hash: bytes) -> SessionUser | None:
        row = await self._fast.read(token_hash=token_hash) if self._fast else MISS
        if row is MISS:
            async with self.read() as conn:
                row = (await conn.execute(self._lookup, {"token_hash": token_hash})).first()
        if row is None:
            return None
        username, email, email_verified_at, disabled, groups = row[10:]  # the users columns
        return SessionUser(
            _record(row),
            username,
            email,
            email_verified_at is not None,
            bool(disabled),
            groups_of(groups),
        )

    async def touch(self, token_hash: bytes, now: float) -> None:
        await self._write("touch", b_token_hash=token_hash, b_now=now)

    async def delete(self, token_hash: bytes) -> None:
        await self._write("delete", b_token_hash=token_hash)

    async def delete_by_id(self, user_id: int, session_id: str) -> bool:
        async with self.write() as conn:
            result = await conn.execute(
                sessions.delete().where(sessions.c.user_id == user_id, sessions.c.id == session_id)
            )
        return result.rowcount > 0

    async def delete_for_user(self, user_id: int, *, keep_id: str | None = None) -> int:
        stmt = sessions.delete().where(sessions.c.user_id == user_id)
        if keep_id is not None:
            stmt = stmt.where(sessions.c.id != keep_id)
        async with self.write() as conn:
            result = await conn.execute(stmt)
        return result.rowcount

    async def list_for_user(self, user_id: int) -> list[SessionRecord]:
        async with self.read() as conn:
            rows = await conn.execute(
                sa.select(*_COLUMNS)
                .where(sessions.c.user_id == user_id)
                .order_by(sessions.c.created_at.desc())
            )
        return [_record(row) for row in rows]

    async def list_all(self) -> list[SessionRecord]:
        async with self.read() as conn:
            rows = await conn.execute(sa.select(*_COLUMNS).order_by(sessions.c.created_at.desc()))
        return [_record(row) for row in rows]

    async def purge_expired(self, now: float) -> int:
        idle_expired = sa.and_(
            sessions.c.idle_seconds.is_not(None),
            sessions.c.last_seen + sessions.c.idle_seconds <= now,
        )
        async with self.write() as conn:
            result = await conn.execute(
                sessions.delete().where(sa.or_(sessions.c.expires_at <= now, idle_expired))
            )
        return result.rowcount
