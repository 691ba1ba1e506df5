"""Reading the original demo's `users.database`, and writing imported accounts in batches."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from signin.stores.base import NewUser
from signin.stores.sql.base import SqlStore
from signin.stores.sql.engine import upsert
from signin.stores.sql.schema import users

DEMO_COLUMNS = ("id", "username", "password_hash")
_IN_CHUNK = 500  # well under SQLite's bound-parameter limit


class DemoFileError(Exception):
    """The file is missing, not SQLite, or has no demo `users` table; the message is one line."""


class DemoFile:
    """The demo database, opened read-only: importing never writes to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            raise DemoFileError(f"{path}: a directory (name the demo's users.database in it)")
        if not path.is_file():
            raise DemoFileError(f"{path}: no such file")
        try:
            # mode=ro: a typo'd path must not create an empty database, nor may we touch theirs.
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(users)")}
        except sqlite3.DatabaseError as exc:
            raise DemoFileError(f"{path}: not an SQLite database ({exc})") from None
        if not columns:
            self._conn.close()
            raise DemoFileError(f"{path}: no table 'users' (is this the demo's users.database?)")
        missing = [name for name in DEMO_COLUMNS if name not in columns]
        if missing:
            self._conn.close()
            raise DemoFileError(f"{path}: table 'users' lacks column(s) {', '.join(missing)}")

    def __enter__(self) -> DemoFile:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._conn.close()

    def count(self) -> int:
        return int(self._read("SELECT count(*) FROM users").fetchone()[0])

    def rows(self, batch: int = 1000) -> Iterator[tuple[int, object, object]]:
        """(id, username, password_hash) in id order: the demo signed in the first row of a name.

        The demo checked nothing, so username and password_hash may be NULL, numbers or blobs.
        """
        cursor = self._read("SELECT id, username, password_hash FROM users ORDER BY id")
        while chunk := self._fetch(cursor, batch):
            yield from chunk

    def _read(self, sql: str) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql)
        except sqlite3.DatabaseError as exc:
            raise DemoFileError(f"{self.path}: cannot read users ({exc})") from None

    def _fetch(self, cursor: sqlite3.Cursor, batch: int) -> list[tuple[int, object, object]]:
        try:
            return cursor.fetchmany(batch)
        except sqlite3.DatabaseError as exc:  # a damaged page surfaces only when read
            raise DemoFileError(f"{self.path}: cannot read users ({exc})") from None


class SqlAccountWriter(SqlStore):
    """Adds imported accounts a batch per transaction: a batch is all in, or not at all."""

    async def existing(self, canons: Sequence[str]) -> set[str]:
        found: set[str] = set()
        async with self.read() as conn:
            for start in range(0, len(canons), _IN_CHUNK):
                chunk = canons[start : start + _IN_CHUNK]
                rows = await conn.execute(
                    sa.select(users.c.username_canon).where(users.c.username_canon.in_(chunk))
                )
                found.update(row[0] for row in rows)
        return found

    async def insert(self, batch: Sequence[NewUser]) -> set[str]:
        """Insert `batch` in one transaction; the canons actually added (sign-ups may race us)."""
        if not batch:
            return set()
        values = [
            {
                "username": user.username,
                "username_canon": user.username_canon,
                "username_skeleton": user.username_skeleton,
                "email": None,
                "email_canon": None,
                "password_hash": user.password_hash,
                "created_at": user.created_at,
                "password_changed_at": user.created_at,
                "disabled": False,
            }
            for user in batch
        ]
        added: set[str] = set()
        async with self.write() as conn:
            for start in range(0, len(values), _IN_CHUNK // 8):  # 8 columns per row
                stmt = (
                    upsert(self.dialect, users)
                    .values(values[start : start + _IN_CHUNK // 8])
                    .on_conflict_do_nothing()
                    .returning(users.c.username_canon)
                )
                added.update(row[0] for row in await conn.execute(stmt))
        return added
