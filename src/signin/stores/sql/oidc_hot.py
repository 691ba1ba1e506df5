"""The OIDC store's hot paths: a token looked up for userinfo or a refresh, and the rotation.

A refresh must cost well under 2 ms of server CPU (bench/FINDINGS-oidc.md). Through the generic
async path it cost 5-6 ms: a read and a write transaction of five statements, each statement a
round trip through SQLAlchemy's async layer. Here the statements are built once, and:
- the lookup runs on the engine's point reader (plain sqlite3 or asyncpg, reads.py);
- a refresh of a family just read live is one conditional write: the old token is used only if
  it, and its family, are still live, and only then are the new tokens stored. On SQLite that
  is one `BEGIN IMMEDIATE ... COMMIT` in the engine's writer thread (fastwrite.py); on
  PostgreSQL one statement whose CTEs do the three writes, in autocommit on a plain asyncpg
  connection (pgwrite.py): one round trip.
Whatever this path does not write (the token was used, expired or revoked meanwhile) is left to
`SqlOidcStore.rotate_refresh`'s full path, which tells a reuse from an unknown token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from signin.stores.oidc import ActiveToken, GrantRecord, OidcToken, Subject
from signin.stores.sql.engine import on_asyncpg
from signin.stores.sql.fastwrite import FastWriter
from signin.stores.sql.lite import groups_of
from signin.stores.sql.schema import oidc_grants as grants
from signin.stores.sql.schema import oidc_subjects as subjects
from signin.stores.sql.schema import oidc_tokens as tokens
from signin.stores.sql.schema import users

if TYPE_CHECKING:
    from signin.stores.sql.base import SqlStore
    from signin.stores.sql.pgwrite import PgStatement, PgWrites

_GRANT_COLUMNS = [getattr(grants.c, name) for name in GrantRecord.__slots__]


def active_query() -> sa.Select[Any]:
    """A live token of a kind, with its family and its enabled user, read by position."""
    return (
        sa.select(
            tokens.c.token_hash,
            tokens.c.kind,
            tokens.c.created_at.label("token_created_at"),
            tokens.c.expires_at.label("token_expires_at"),
            *_GRANT_COLUMNS,
            users.c.username,
            users.c.email,
            users.c.email_verified_at,
            users.c.groups,
            subjects.c.sub,
            tokens.c.scope,
        )
        .join(grants, grants.c.id == tokens.c.grant_id)
        .join(users, users.c.id == grants.c.user_id)
        .join(subjects, subjects.c.user_id == users.c.id)
        .where(
            tokens.c.token_hash == sa.bindparam("token_hash"),
            tokens.c.kind == sa.bindparam("kind"),
            tokens.c.expires_at > sa.bindparam("now"),
            tokens.c.used_at.is_(None),
            grants.c.revoked_at.is_(None),
            users.c.disabled == sa.false(),
        )
    )


def active_row(row: Any) -> ActiveToken:
    """An `active_query` row (SQLAlchemy's, sqlite3's or asyncpg's) as an `ActiveToken`."""
    token_hash, kind, created_at, expires_at = row[:4]
    grant = GrantRecord(*row[4:14])
    username, email, verified_at, groups, sub, scope = row[14:20]
    person = Subject(sub, username, email, verified_at is not None, groups_of(groups))
    token = OidcToken(bytes(token_hash), kind, grant.id, created_at, expires_at, scope)
    return ActiveToken(token, grant, person)


def _statements() -> dict[str, sa.UpdateBase]:
    live_family = (
        sa.select(grants.c.id)
        .where(grants.c.id == sa.bindparam("b_grant"), grants.c.revoked_at.is_(None))
        .exists()
    )
    return {
        "use": tokens.update()
        .where(
            tokens.c.token_hash == sa.bindparam("b_token"),
            tokens.c.kind == "refresh",
            tokens.c.grant_id == sa.bindparam("b_grant"),
            tokens.c.used_at.is_(None),
            tokens.c.expires_at > sa.bindparam("b_now"),
            live_family,
        )
        .values(used_at=sa.bindparam("b_now")),
        "add": tokens.insert().values(
            token_hash=sa.bindparam("b_new"),
            kind=sa.bindparam("b_kind"),
            grant_id=sa.bindparam("b_grant"),
            created_at=sa.bindparam("b_created"),
            expires_at=sa.bindparam("b_expires"),
            scope=sa.bindparam("b_scope"),
        ),
        "extend": grants.update()
        .where(
            grants.c.id == sa.bindparam("b_grant"),
            grants.c.expires_at < sa.bindparam("b_until"),
        )
        .values(expires_at=sa.bindparam("b_until")),
    }


def _postgres_statement(count: int) -> sa.TextClause:
    """The three writes as one PostgreSQL statement: the inserts and the extension read the
    `used` CTE, so they happen only when the token was used by this very statement."""
    # Only the row numbers are put into the text; every value is a bound parameter.
    columns = "token_hash, kind, grant_id, created_at, expires_at, scope"
    inserts = ",\n".join(
        f"added{i} AS (INSERT INTO oidc_tokens ({columns}) SELECT :b_new{i}, :b_kind{i},"  # noqa: S608
        f" grant_id, :b_created{i}, :b_expires{i}, :b_scope{i} FROM used RETURNING 1)"
        for i in range(count)
    )
    binds: list[sa.BindParameter[Any]] = [sa.bindparam("b_token", type_=sa.LargeBinary())]
    binds += [sa.bindparam(f"b_new{i}", type_=sa.LargeBinary()) for i in range(count)]
    binds += [sa.bindparam(f"b_kind{i}", type_=sa.String()) for i in range(count)]
    binds += [sa.bindparam(f"b_scope{i}", type_=sa.String()) for i in range(count)]
    floats = [f"b_{name}{i}" for name in ("created", "expires") for i in range(count)]
    binds += [sa.bindparam(name, type_=sa.Float()) for name in [*floats, "b_now", "b_until"]]
    binds += [sa.bindparam("b_grant", type_=sa.String())]
    return sa.text(
        "WITH used AS (UPDATE oidc_tokens SET used_at = :b_now"  # noqa: S608
        " WHERE token_hash = :b_token AND kind = 'refresh' AND grant_id = :b_grant"
        " AND used_at IS NULL AND expires_at > :b_now AND EXISTS (SELECT 1 FROM oidc_grants"
        " WHERE id = :b_grant AND revoked_at IS NULL) RETURNING grant_id),\n"
        f"{inserts},\n"
        "extended AS (UPDATE oidc_grants SET expires_at = :b_until"
        " WHERE id IN (SELECT grant_id FROM used) AND expires_at < :b_until RETURNING 1)\n"
        "SELECT count(*) FROM used"
    ).bindparams(*binds)


class Rotation:
    """A live refresh token swapped for new ones in one write (see the module's docstring)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._statements = _statements()
        self._writer = writer = FastWriter.shared(store.engine)
        if writer is not None:
            self._sql = {name: writer.compile(s) for name, s in self._statements.items()}
        self._postgres = store.dialect == "postgresql"
        self._postgres_statements: dict[int, tuple[sa.TextClause, PgStatement | None]] = {}
        self._pg_writes: PgWrites | None = None
        if self._postgres and on_asyncpg(store.engine):
            # Imported here: asyncpg is for PostgreSQL engines only (stores/sql/reads.py).
            from signin.stores.sql.pgwrite import PgWrites

            self._pg_writes = PgWrites.shared(store.engine)

    async def run(
        self,
        token_hash: bytes,
        now: float,
        replacements: list[OidcToken],
        expires_at: float,
        grant_id: str,
    ) -> bool:
        """True when this call used the token and stored `replacements`; False: nothing written."""
        base = {"b_token": token_hash, "b_grant": grant_id, "b_now": now, "b_until": expires_at}
        if self._postgres:
            return await self._one_statement(base, replacements)
        steps: list[tuple[str, dict[str, Any]]] = [("use", base)]
        for token in replacements:
            added: dict[str, Any] = {"b_new": token.token_hash, "b_kind": token.kind}
            added["b_scope"] = token.scope
            added |= {"b_created": token.created_at, "b_expires": token.expires_at}
            steps.append(("add", base | added))
        steps.append(("extend", base))
        if self._writer is not None:
            done = await self._writer.run_all(
                [(self._sql[name], params) for name, params in steps],
                stop=lambda index, outcome: index == 0 and outcome.rowcount != 1,
                durable=True,  # like the engine's commits: tokens handed out outlive a power loss
            )
            return done[0].rowcount == 1
        async with self._store.write() as conn:
            if (await conn.execute(self._statements["use"], base)).rowcount != 1:
                return False
            for name, params in steps[1:]:
                await conn.execute(self._statements[name], params)
        return True

    async def _one_statement(self, base: dict[str, Any], replacements: list[OidcToken]) -> bool:
        count = len(replacements)
        found = self._postgres_statements.get(count)
        if found is None:
            statement = _postgres_statement(count)
            plain = None
            if self._pg_writes is not None:
                from signin.stores.sql.pgwrite import PgStatement

                plain = PgStatement(self._pg_writes, self._store.engine, statement)
            found = self._postgres_statements[count] = (statement, plain)
        statement, plain = found
        params = dict(base)
        for i, token in enumerate(replacements):
            params |= {f"b_new{i}": token.token_hash, f"b_kind{i}": token.kind}
            params[f"b_scope{i}"] = token.scope
            params |= {f"b_created{i}": token.created_at, f"b_expires{i}": token.expires_at}
        if plain is not None:  # one round trip in autocommit (stores/sql/pgwrite.py)
            row = await plain.first(**params)
            return int(row[0]) == 1
        async with self._store.write() as conn:
            used: int = (await conn.execute(statement, params)).scalar_one()
        return used == 1
