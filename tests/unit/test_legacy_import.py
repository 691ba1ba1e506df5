"""The importer on a real SQLite target: reasons, first row wins, idempotence, whole batches."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from signin.accounts.legacy import is_marked
from signin.accounts.legacy_import import LegacyImporter, printable
from signin.crypto.prehash import prehash_v1
from signin.services import Services
from signin.stores.legacy import DemoFile, DemoFileError, SqlAccountWriter
from tests.demo_db import demo_js_prehash, demo_rows, demo_users, make_demo_file


def importer(services: Services, batch_size: int = 50) -> LegacyImporter:
    return LegacyImporter(
        SqlAccountWriter(services.engine),
        services.hasher,
        clock=services.clock,
        workers=2,
        batch_size=batch_size,
    )


async def count_users(services: Services) -> int:
    total = 0
    while batch := await services.users.list(limit=1000, offset=total):
        total += len(batch)
    return total


async def test_reasons_duplicates_and_first_row_wins(services: Services, tmp_path: Path) -> None:
    rows = [
        ("Alice", demo_js_prehash("Alice", "first")),  # 1
        ("alice", demo_js_prehash("alice", "second")),  # 2: same canon as row 1
        ("bo", demo_js_prehash("bo", "x")),  # 3: too short
        ("carol", "plain text"),  # 4: not a pre-hash
        (None, None),  # 5
        ("dave", demo_js_prehash("dave", "d")),  # 6
        ("x" * 33, demo_js_prehash("x" * 33, "x")),  # 7: too long
        ("eve\u0000", demo_js_prehash("eve", "e")),  # 8: control character
    ]
    demo = make_demo_file(tmp_path / "users.database", rows)
    progress: list[int] = []
    with DemoFile(demo) as source:
        report = await importer(services).run(source, progress.append)
    assert (report.rows, report.imported, report.page_ready) == (8, 2, 1)
    assert [(s.row_id, s.reason) for s in report.skipped] == [
        (2, "duplicate"),
        (3, "invalid_username"),
        (4, "malformed_hash"),
        (5, "invalid_username"),
        (7, "invalid_username"),
        (8, "invalid_username"),
    ]
    assert sum(progress) == 8
    alice = await services.users.by_canon("alice")
    assert alice is not None
    assert alice.username == "Alice"  # kept as the demo had it: its pre-hash depends on it
    assert is_marked(alice.password_hash)
    assert alice.email is None
    assert not alice.disabled
    user = await services.authenticator.sign_in("alice", "first", None)
    assert user.id == alice.id


async def test_second_run_imports_nothing(services: Services, tmp_path: Path) -> None:
    demo = make_demo_file(tmp_path / "users.database", demo_rows(demo_users(120)))
    with DemoFile(demo) as source:
        first = await importer(services).run(source)
    with DemoFile(demo) as source:
        second = await importer(services).run(source)
    assert first.imported == 120
    assert second.imported == 0
    assert second.reasons() == {"exists": 120}
    assert await count_users(services) == 120


async def test_existing_account_is_left_alone(services: Services, tmp_path: Path) -> None:
    await services.registration.sign_up("User000003", "a much better password")
    demo = make_demo_file(tmp_path / "users.database", demo_rows(demo_users(5)))
    with DemoFile(demo) as source:
        report = await importer(services).run(source)
    assert report.imported == 4
    assert [(s.row_id, s.reason) for s in report.skipped] == [(4, "exists")]
    kept = await services.authenticator.sign_in("user000003", "a much better password", None)
    assert kept.username == "User000003"


async def test_interrupted_import_leaves_whole_batches_and_resumes(
    services: Services, tmp_path: Path
) -> None:
    users = demo_users(100)
    demo = make_demo_file(tmp_path / "users.database", demo_rows(users))
    done = 0

    class Interrupted(Exception):
        """Stands in for Ctrl-C (pytest keeps a real KeyboardInterrupt for itself)."""

    def interrupt(step: int) -> None:
        nonlocal done
        done += step
        if done == 70:  # in the middle of the second batch of 50
            raise Interrupted

    with DemoFile(demo) as source, pytest.raises(Interrupted):
        await importer(services, batch_size=50).run(source, interrupt)
    assert await count_users(services) == 50
    with DemoFile(demo) as source:
        report = await importer(services, batch_size=50).run(source)
    assert (report.imported, len(report.skipped)) == (50, 50)
    name, password = users[99]
    assert (await services.authenticator.sign_in(name, prehash_v1(name, password), None)).username


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DemoFileError, match="no such file"):
        DemoFile(tmp_path / "nope.database")
    assert not (tmp_path / "nope.database").exists()


def test_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "users.database"
    path.write_text("id,username,password_hash\n1,alice,$1$x$\n" * 50)
    with pytest.raises(DemoFileError, match="not an SQLite database"):
        DemoFile(path)


def test_no_users_table(tmp_path: Path) -> None:
    path = tmp_path / "users.database"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (id INTEGER, name TEXT)")
    conn.close()
    with pytest.raises(DemoFileError, match="no table 'users'"):
        DemoFile(path)


def test_users_table_without_password_hash(tmp_path: Path) -> None:
    path = tmp_path / "users.database"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, password TEXT)")
    conn.close()
    with pytest.raises(DemoFileError, match="lacks column"):
        DemoFile(path)


def test_printable_shows_junk_safely() -> None:
    assert printable("alice") == "alice"
    assert printable(None) == "None"
    assert printable("a\nb") == "'a\\nb'"
    assert len(printable("y" * 100)) == 40
