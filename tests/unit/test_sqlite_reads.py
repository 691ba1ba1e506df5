"""The CLI's plain-sqlite3 reads (stores/sql/lite.py) give exactly what the SQL stores give."""

from __future__ import annotations

from pathlib import Path

from signin.accounts.lockout import Lockout, lock_infos
from signin.stores.base import NewUser
from signin.stores.sql.engine import create_engine
from signin.stores.sql.lite import SqliteReads, sqlite_file
from signin.stores.sql.locks import SqlLockStore
from signin.stores.sql.users import SqlUserStore
from tests.support import SQLITE_PREFIX, migrated

NOW = 1_800_000_000.0
WINDOW = 600


def _new(name: str, email: str | None, groups: tuple[str, ...] = ()) -> NewUser:
    return NewUser(
        username=name,
        username_canon=name.casefold(),
        email=email,
        email_canon=email.casefold() if email else None,
        password_hash="$argon2id$not-a-real-hash",
        created_at=NOW - 1000.5,
        username_skeleton=name.casefold(),
        groups=groups,
    )


async def test_users_and_locks_read_as_the_stores_read_them(tmp_path: Path) -> None:
    url = SQLITE_PREFIX + str(tmp_path / "signin.db")
    await migrated(url)
    engine = create_engine(url)
    users, locks = SqlUserStore(engine), SqlLockStore(engine)
    try:
        alice = await users.create(_new("Alice", "alice@example.org", ("admins", "ops")))
        bob = await users.create(_new("bob", None))
        await users.create(_new("carol", "carol@example.org"))
        await users.set_email_verified(alice.id, "alice@example.org", NOW - 10)
        await users.set_disabled(bob.id, True)
        # Usernames, IPs and a device below and at their limits; an expired key; a throttle
        # counter of another kind that `locks list` leaves out.
        for key, count, at in (
            ("alice", 3, NOW - 5),
            ("bob", 1, NOW - 50),
            ("IP:192.0.2.7", 5, NOW - 1),
            ("IP:192.0.2.8", 2, NOW - 2),
            ("device:alice:abc", 3, NOW - 3),
            ("old", 9, NOW - WINDOW - 1),
            ("RESET:alice", 2, NOW - 4),
        ):
            for _ in range(count):
                await locks.reserve(key, at, WINDOW)

        reads = SqliteReads.of(url)
        assert reads is not None
        assert reads.users() == await users.list()
        assert [user.username for user in reads.users()] == ["Alice", "bob", "carol"]
        assert reads.users(limit=1, offset=1) == await users.list(limit=1, offset=1)
        assert reads.users(limit=5, offset=3) == []
        assert reads.locks(NOW, WINDOW) == await locks.list(NOW, WINDOW)

        lockout = Lockout(
            locks, max_failures=3, ip_max_failures=5, lock_seconds=WINDOW, clock=lambda: NOW
        )
        for locked_only in (False, True):
            shown = lock_infos(
                reads.locks(NOW, WINDOW),
                NOW,
                max_failures=3,
                ip_max_failures=5,
                lock_seconds=WINDOW,
                locked_only=locked_only,
            )
            assert shown == await lockout.locks(locked_only=locked_only)
        assert {info.key for info in shown} == {"alice", "ip:192.0.2.7", "device:alice:abc"}
    finally:
        await engine.dispose()


def test_only_a_plain_sqlite_file_is_read_directly(tmp_path: Path) -> None:
    missing = SQLITE_PREFIX + str(tmp_path / "absent.db")
    assert sqlite_file(missing) == tmp_path / "absent.db"
    assert SqliteReads.of(missing) is None  # no file yet: the services create it
    for url in (
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:x?mode=memory&uri=true",
        "postgresql+asyncpg://postgres@127.0.0.1/test",
    ):
        assert sqlite_file(url) is None
        assert SqliteReads.of(url) is None
