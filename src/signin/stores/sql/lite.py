"""Reads for the command line on a SQLite file, through the standard library's `sqlite3`.

`signin users list` and `signin locks list` are what an operator types during an attack. Through
the stores they would first import SQLAlchemy and its asyncio layer, most of their start-up time
(docs/performance.md). These reads need none of it: the same SELECTs as `SqlUserStore.list` and
`SqlLockStore.list`, on a read-only connection that, like every WAL reader, does not wait for the
server's writers. tests/unit/test_sqlite_reads.py checks that they give what the stores give.

This module imports no SQLAlchemy, so the pieces shared with the stores live here: the SQLite
busy timeout and how the `users.groups` column is read and written.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from signin.stores.base import LockRecord, UserRecord

SQLITE_BUSY_MS = 30_000
SQLITE_FILE_PREFIX = "sqlite+aiosqlite:///"

_USERS = (
    "SELECT id, username, username_canon, email, email_verified_at, password_hash, created_at,"
    " password_changed_at, disabled, groups FROM users ORDER BY id LIMIT ? OFFSET ?"
)
_LOCKS = (
    "SELECT key, failures, last_attempt FROM fail_locks WHERE last_attempt > ?"
    " ORDER BY last_attempt DESC"
)


def groups_of(text: str | None) -> tuple[str, ...]:
    """The `users.groups` column as names: the one place a stored group list is read."""
    return tuple(text.split(",")) if text else ()


def groups_text(names: Iterable[str]) -> str:
    return ",".join(sorted(set(names)))


def sqlite_file(url: str) -> Path | None:
    """The file behind a plain SQLite URL (`settings.sqlalchemy_url`); None for PostgreSQL, an
    in-memory database or a URL with options."""
    if not url.startswith(SQLITE_FILE_PREFIX) or "?" in url:
        return None
    database = url[len(SQLITE_FILE_PREFIX) :]
    return None if database in ("", ":memory:") else Path(database)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A query-only connection to an existing database file (`sqlite3.Error` if there is none)."""
    uri = f"{path.absolute().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_MS / 1000, isolation_level=None)


class SqliteReads:
    """Accounts and fail-lock counters read from a SQLite database file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, url: str) -> SqliteReads | None:
        """For a SQLite file that exists; None otherwise (the stores then do the reading)."""
        path = sqlite_file(url)
        return cls(path) if path is not None and path.is_file() else None

    def users(self, limit: int = 1000, offset: int = 0) -> list[UserRecord]:
        rows = self._all(_USERS, (limit, offset))
        return [
            UserRecord(
                id=row[0],
                username=row[1],
                username_canon=row[2],
                email=row[3],
                email_verified=row[4] is not None,
                password_hash=row[5],
                created_at=float(row[6]),
                password_changed_at=float(row[7]),
                disabled=bool(row[8]),
                groups=groups_of(row[9]),
            )
            for row in rows
        ]

    def locks(self, now: float, window: int) -> list[LockRecord]:
        """The counters still in their window, the most recent attempt first."""
        rows = self._all(_LOCKS, (now - window,))
        return [LockRecord(row[0], row[1], float(row[2])) for row in rows]

    def _all(self, sql: str, params: tuple[float, ...]) -> list[Any]:
        with contextlib.closing(connect_read_only(self.path)) as conn:
            return conn.execute(sql, params).fetchall()
