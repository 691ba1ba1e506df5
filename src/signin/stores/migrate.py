"""Schema migrations (Alembic), applied by `signin serve`, `signin db upgrade` and admin commands.

Alembic (and the SQLAlchemy pieces it pulls in) takes longer to import than most commands take to
run, and almost every run finds nothing to do. So a SQLite database in a file is first asked for
its revision with the standard library; when that is the newest revision of the migration files,
Alembic is not imported at all. Anything else (a new or older database, PostgreSQL, an unusual
URL, any error on the way) goes through Alembic exactly as before.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from signin.stores.sql.lite import connect_read_only, sqlite_file

if TYPE_CHECKING:
    from alembic.config import Config

VERSIONS = Path(__file__).parent / "migrations" / "versions"
# `revision = "0006"` and `down_revision = "0005"` (or None) in a migration file, as Alembic's
# template writes them (repr(), so either quote).
_ASSIGNMENT = re.compile(
    r"""^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:["']([^"'\n]+)["']|None)\s*$""", re.M
)


@dataclass(frozen=True)
class Upgrade:
    """The schema revision before and after an upgrade (`before` is None for a new database)."""

    before: str | None
    after: str | None

    def describe(self) -> str:
        if self.before is None:
            return f"created the database schema at revision {self.after}"
        if self.before != self.after:
            return f"upgraded the database schema from revision {self.before} to {self.after}"
        return f"database schema is up to date (revision {self.after})"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "signin.stores:migrations")
    config.attributes["url"] = url
    return config


def upgrade(url: str) -> Upgrade:
    """Bring the database at `url` to the newest schema (blocking; not on the event loop)."""
    current = _sqlite_revision(url)
    if current is not None and current == head_revision():
        return Upgrade(current, current)
    from alembic import command

    config = alembic_config(url)
    command.upgrade(config, "head")
    return Upgrade(config.attributes.get("before"), config.attributes.get("after"))


def head_revision() -> str | None:
    """The newest revision named in the migration files, read as text (no Alembic import).

    None unless the files form one chain with exactly one head: Alembic then decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        found = {name: value for name, value in _ASSIGNMENT.findall(path.read_text("utf-8"))}
        if not found.get("revision") or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _sqlite_revision(url: str) -> str | None:
    """The revision a SQLite database file records, read-only; None when that cannot be told
    cheaply (not a plain SQLite file URL, no file yet, no version table, any error)."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = connect_read_only(path)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return str(rows[0][0]) if len(rows) == 1 else None
