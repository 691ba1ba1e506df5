"""Files in the original demo's format (`users.database`), built the way the demo built them."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

DEMO_SCHEMA = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT, password_hash TEXT)"
)


def demo_js_prehash(username: str, password: str) -> str:
    """What the demo's `hash_password_v1` sent: SHA-512 over each UTF-16 code unit's low byte.

    Written apart from `signin.accounts.legacy` on purpose, so the two check each other.
    """
    units = (username + password).encode("utf-16-le", "surrogatepass")
    data = bytes(int.from_bytes(units[i : i + 2], "little") % 256 for i in range(0, len(units), 2))
    return "$1$" + base64.b64encode(hashlib.sha512(data).digest()).decode() + "$"


def make_demo_file(path: Path, rows: Iterable[Sequence[object]]) -> Path:
    """A demo database holding (username, password_hash) rows in order, ids from 1."""
    with sqlite3.connect(path) as conn:
        conn.execute(DEMO_SCHEMA)
        conn.executemany("INSERT INTO users (username, password_hash) VALUES (?, ?)", rows)
    conn.close()
    return path


def demo_users(count: int, prefix: str = "user") -> list[tuple[str, str]]:
    """`count` (username, password) pairs: canonical ASCII names, distinct passwords."""
    return [(f"{prefix}{n:06d}", f"pw-{n:06d}-horse") for n in range(count)]


def demo_rows(users: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, demo_js_prehash(name, password)) for name, password in users]
