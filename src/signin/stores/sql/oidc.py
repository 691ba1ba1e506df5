"""The OIDC store in SQL: codes used once by one conditional UPDATE, token families, tokens.

Every "use once" is a single `UPDATE ... WHERE used_at IS NULL`: of two instances redeeming
one code (or rotating one refresh token) at once, exactly one sees a row change.

The token endpoint's refresh and userinfo, the provider's hot paths, are in oidc_hot.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from signin.stores.oidc import (
    ActiveToken,
    CodeRecord,
    GrantRecord,
    OidcToken,
    Redeemed,
    Rotated,
    Subject,
    TokenKind,
)
from signin.stores.sql.lite import groups_of
from signin.stores.sql.oidc_hot import Rotation, active_query, active_row
from signin.stores.sql.oidc_people import SqlOidcPeople
from signin.stores.sql.reads import MISS, point_reader
from signin.stores.sql.schema import oidc_codes as codes
from signin.stores.sql.schema import oidc_grants as grants
from signin.stores.sql.schema import oidc_tokens as tokens
from signin.stores.sql.schema import users

CODE_KEEP = 3600.0  # used and expired codes are kept this long to recognise a replay


def _code(row: Any) -> CodeRecord:
    return CodeRecord(
        code_hash=bytes(row.code_hash),
        client_id=row.client_id,
        user_id=row.user_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        auth_time=row.auth_time,
        amr=row.amr,
        session_id=row.session_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _grant(row: Any) -> GrantRecord:
    return GrantRecord(
        id=row.id,
        client_id=row.client_id,
        user_id=row.user_id,
        scope=row.scope,
        auth_time=row.auth_time,
        amr=row.amr,
        session_id=row.session_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _subject(row: Any) -> Subject:
    return Subject(
        row.sub, row.username, row.email, row.email_verified_at is not None, groups_of(row.groups)
    )


def _grant_values(grant: GrantRecord) -> dict[str, Any]:
    return {name: getattr(grant, name) for name in GrantRecord.__slots__}


def _token_values(grant_id: str, token: OidcToken) -> dict[str, Any]:
    return {
        "token_hash": token.token_hash,
        "kind": token.kind,
        "grant_id": grant_id,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "scope": token.scope,
    }


class SqlOidcStore(SqlOidcPeople):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._active_query = active_query()
        self._fast_active = point_reader(engine, self._active_query)
        self._rotation = Rotation(self)

    async def add_code(self, code: CodeRecord) -> None:
        values = {name: getattr(code, name) for name in CodeRecord.__slots__}
        async with self.write() as conn:
            await conn.execute(codes.insert().values(**values))

    async def redeem_code(self, code_hash: bytes, now: float, grant_id: str) -> Redeemed | None:
        async with self.write() as conn:
            used = await conn.execute(
                codes.update()
                .where(
                    codes.c.code_hash == code_hash,
                    codes.c.used_at.is_(None),
                    codes.c.expires_at > now,
                )
                .values(used_at=now, grant_id=grant_id)
            )
            row = (
                await conn.execute(sa.select(codes).where(codes.c.code_hash == code_hash))
            ).first()
        if row is None:
            return None
        if used.rowcount == 1:
            return Redeemed(_code(row), False, grant_id)
        if row.used_at is not None and row.grant_id is not None:
            return Redeemed(_code(row), True, row.grant_id)
        return None  # expired unused

    async def add_grant(self, grant: GrantRecord, new_tokens: list[OidcToken]) -> bool:
        try:
            async with self.write() as conn:
                await conn.execute(grants.insert().values(**_grant_values(grant)))
                await self._insert_tokens(conn, grant.id, new_tokens)
        except sa.exc.IntegrityError:
            return False  # a replay of its code revoked it first (a tombstone holds the id)
        return True

    async def _insert_tokens(
        self, conn: AsyncConnection, grant_id: str, new_tokens: list[OidcToken]
    ) -> None:
        if new_tokens:
            await conn.execute(tokens.insert(), [_token_values(grant_id, t) for t in new_tokens])

    async def rotate_refresh(
        self,
        token_hash: bytes,
        now: float,
        replacements: list[OidcToken],
        expires_at: float,
        *,
        grant: GrantRecord | None = None,
    ) -> Rotated:
        if grant is not None and replacements:
            if await self._rotation.run(token_hash, now, replacements, expires_at, grant.id):
                return Rotated(replace(grant, expires_at=max(grant.expires_at, expires_at)))
            replacements = []  # used, expired or revoked since it was read: say which below
        async with self.write() as conn:
            used = await conn.execute(
                tokens.update()
                .where(
                    tokens.c.token_hash == token_hash,
                    tokens.c.kind == "refresh",
                    tokens.c.used_at.is_(None),
                    tokens.c.expires_at > now,
                )
                .values(used_at=now)
            )
            row = (
                await conn.execute(
                    sa.select(tokens.c.used_at, grants)
                    .join(grants, grants.c.id == tokens.c.grant_id)
                    .where(tokens.c.token_hash == token_hash, tokens.c.kind == "refresh")
                )
            ).first()
            if row is None:
                return Rotated(None)
            if used.rowcount != 1:
                return Rotated(None, reused_grant=row.id if row.used_at is not None else None)
            grant = _grant(row)
            if grant.revoked_at is not None:
                return Rotated(None)
            await self._insert_tokens(conn, grant.id, replacements)
            if grant.expires_at < expires_at:
                await conn.execute(
                    grants.update().where(grants.c.id == grant.id).values(expires_at=expires_at)
                )
        return Rotated(grant)

    async def active(self, token_hash: bytes, kind: TokenKind, now: float) -> ActiveToken | None:
        params = {"token_hash": token_hash, "kind": kind, "now": now}
        row = await self._fast_active.read(**params) if self._fast_active else MISS
        if row is MISS:
            async with self.read() as conn:
                row = (await conn.execute(self._active_query, params)).first()
        return None if row is None else active_row(row)

    async def person(self, user_id: int) -> Subject | None:
        sub = await self.subject(user_id)
        query = sa.select(
            users.c.username, users.c.email, users.c.email_verified_at, users.c.groups
        ).where(users.c.id == user_id, users.c.disabled == sa.false())
        async with self.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Subject(
            sub, row.username, row.email, row.email_verified_at is not None, groups_of(row.groups)
        )

    async def revoke_token(self, token_hash: bytes) -> bool:
        async with self.write() as conn:
            result = await conn.execute(tokens.delete().where(tokens.c.token_hash == token_hash))
        return result.rowcount > 0

    async def revoke_grant(
        self, grant_id: str, now: float, tombstone: GrantRecord | None = None
    ) -> bool:
        for _ in range(2):
            try:
                async with self.write() as conn:
                    result = await conn.execute(
                        grants.update()
                        .where(grants.c.id == grant_id, grants.c.revoked_at.is_(None))
                        .values(revoked_at=now)
                    )
                    await conn.execute(tokens.delete().where(tokens.c.grant_id == grant_id))
                    if result.rowcount == 0 and tombstone is not None:
                        exists = await conn.execute(
                            sa.select(grants.c.id).where(grants.c.id == grant_id)
                        )
                        if exists.first() is None:
                            await conn.execute(grants.insert().values(**_grant_values(tombstone)))
                            return True
                return result.rowcount > 0
            except sa.exc.IntegrityError:
                continue  # the redemption stored it meanwhile: revoke that one
        return False

    async def revoke_for_user(self, user_id: int, now: float, client_id: str | None = None) -> int:
        where = [grants.c.user_id == user_id]
        if client_id is not None:
            where.append(grants.c.client_id == client_id)
        async with self.write() as conn:
            await conn.execute(
                tokens.delete().where(tokens.c.grant_id.in_(sa.select(grants.c.id).where(*where)))
            )
            result = await conn.execute(
                grants.update().where(*where, grants.c.revoked_at.is_(None)).values(revoked_at=now)
            )
        return result.rowcount

    async def grants_for_user(self, user_id: int, now: float) -> list[GrantRecord]:
        async with self.read() as conn:
            rows = await conn.execute(
                sa.select(grants)
                .where(
                    grants.c.user_id == user_id,
                    grants.c.revoked_at.is_(None),
                    grants.c.expires_at > now,
                )
                .order_by(grants.c.created_at)
            )
            return [_grant(row) for row in rows]

    async def purge(self, now: float) -> int:
        async with self.write() as conn:
            gone = await conn.execute(codes.delete().where(codes.c.expires_at < now - CODE_KEEP))
            ended = await conn.execute(grants.delete().where(grants.c.expires_at < now - CODE_KEEP))
        return gone.rowcount + ended.rowcount
