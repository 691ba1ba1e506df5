"""`import-legacy`, `dump`, `db reset`, `db backup` as an operator runs them, with a real server."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from signin.crypto.prehash import prehash_v1
from tests.demo_db import demo_js_prehash, demo_rows, demo_users, make_demo_file
from tests.support import CHEAP_ARGON2_ENV, csrf_of, server
from tests.support import run_signin as signin

USERS = 3000


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    return {"SIGNIN_DATA_DIR": str(data_dir), **CHEAP_ARGON2_ENV, **extra}


def usernames_in(db_file: Path) -> set[str]:
    with sqlite3.connect(db_file) as conn:
        names = {row[0] for row in conn.execute("SELECT username FROM users")}
    conn.close()
    return names


def page_sign_in(base: str, username: str, password: str) -> int:
    """What the browser does: the form's CSRF token, then the pre-hash, never the password."""
    with httpx.Client(base_url=base, timeout=10) as http:
        token = csrf_of(http.get("/sign-in").text)
        fields = {
            "csrf_token": token,
            "username": username,
            "password": prehash_v1(username, password),
        }
        return http.post("/sign-in", data=fields).status_code


def basic_form_sign_in(base: str, username: str, password: str) -> int:
    """The no-JavaScript form: the password itself goes to the server."""
    with httpx.Client(base_url=base, timeout=10) as http:
        token = csrf_of(http.get("/sign-in?basic=1").text)
        fields = {"csrf_token": token, "basic": "1", "username": username, "password": password}
        return http.post("/sign-in", data=fields).status_code


def api_sign_in(base: str, username: str, password: str) -> int:
    body = {"username": username, "password": password}
    return httpx.post(base + "/api/v1/session", json=body, timeout=10).status_code


def test_imported_users_sign_in_with_the_same_password(tmp_path: Path) -> None:
    users = demo_users(USERS)
    special = [("Alice", "Wonderland 1865"), ("zoë", "pässwört 99")]
    junk = [("al", "$1$short$"), ("carol", "hunter2"), ("USER000007", demo_js_prehash("x", "y"))]
    demo = make_demo_file(tmp_path / "users.database", demo_rows(users + special) + junk)
    env = env_for(tmp_path / "data")

    first = signin(env, "import-legacy", str(demo), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"imported {USERS + 2} of {USERS + 5} rows" in first.stdout
    assert "skipped 3: 1 duplicate, 1 invalid_username, 1 malformed_hash" in first.stdout
    assert f"{USERS} sign in through the page as before" in first.stdout
    assert len(usernames_in(tmp_path / "data" / "signin.db")) == USERS + 2

    with server(env) as proc:
        for name, password in random.Random(7).sample(users, 8):
            assert page_sign_in(proc.url, name, password) == 303, name
            assert api_sign_in(proc.url, name.upper(), password) == 201, name
        name, password = users[11]
        assert api_sign_in(proc.url, name, password + "x") == 401
        assert page_sign_in(proc.url, name, users[12][1]) != 303
        # The page's pre-hash differs from the demo's; plaintext works and upgrades the hash.
        (alice, alice_pw), (zoe, zoe_pw) = special
        assert page_sign_in(proc.url, alice, alice_pw) != 303
        assert api_sign_in(proc.url, alice, alice_pw) == 201
        assert page_sign_in(proc.url, alice, alice_pw) == 303
        assert page_sign_in(proc.url, zoe, zoe_pw) != 303
        assert basic_form_sign_in(proc.url, zoe, zoe_pw + "!") != 303
        assert basic_form_sign_in(proc.url, zoe, zoe_pw) == 303
        assert page_sign_in(proc.url, zoe, zoe_pw) == 303

        second = signin(env, "import-legacy", str(demo), cwd=tmp_path)  # server still running
    assert second.returncode == 0, second.stderr
    assert f"nothing imported from {demo}: {USERS + 5} rows, {USERS + 2} already here" in (
        second.stdout.replace("\n", " ")
    )
    assert len(usernames_in(tmp_path / "data" / "signin.db")) == USERS + 2


def test_bad_files_give_one_line_and_change_nothing(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    text_file = tmp_path / "users.csv"
    text_file.write_text("id,username,password_hash\n" * 100)
    other_db = tmp_path / "other.database"
    with sqlite3.connect(other_db) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER, name TEXT)")
    conn.close()
    cases = {
        tmp_path / "missing.database": "no such file",
        text_file: "not an SQLite database",
        other_db: "no table 'users'",
        tmp_path: "a directory",
    }
    first = signin(env, "import-legacy", str(text_file), cwd=tmp_path)
    assert first.returncode == 1
    assert not (tmp_path / "data").exists()  # not even an empty database is created
    assert signin(env, "db", "upgrade", cwd=tmp_path).returncode == 0
    db_file = tmp_path / "data" / "signin.db"
    before = hashlib.sha256(db_file.read_bytes()).hexdigest()
    for path, message in cases.items():
        result = signin(env, "import-legacy", str(path), cwd=tmp_path)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith(f"error: {path}: {message}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert hashlib.sha256(db_file.read_bytes()).hexdigest() == before


def test_backup_during_sign_ups_holds_every_acknowledged_account(tmp_path: Path) -> None:
    env = {**env_for(tmp_path / "data"), "SIGNIN_SIGNUP_LIMIT_PER_IP": "100000"}  # one client
    acknowledged: list[tuple[float, str]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def sign_ups(worker: int, base: str) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            for n in range(400):
                if stop.is_set():
                    return
                name = f"w{worker}n{n:04d}"
                body = {"username": name, "password": f"long enough {name}"}
                if http.post("/api/v1/users", json=body).status_code == 201:
                    with lock:
                        acknowledged.append((time.monotonic(), name))

    target = tmp_path / "backup.db"
    with server(env) as proc:
        threads = [threading.Thread(target=sign_ups, args=(w, proc.url)) for w in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        result = signin(env, "db", "backup", str(target), cwd=tmp_path)
        deadline = time.monotonic() + 10
        while (not acknowledged or acknowledged[-1][0] < started) and time.monotonic() < deadline:
            time.sleep(0.05)  # until a sign-up lands after the copy began too
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"backup written to {target}")
    before = {name for at, name in acknowledged if at < started}
    assert len(before) >= 20
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_backup = {row[0] for row in conn.execute("SELECT username FROM users")}
    conn.close()
    assert before <= in_backup
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert len(acknowledged) > len(before)  # the server was writing while the copy was taken

    again = signin(env, "db", "backup", str(target), cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == f"error: {target} exists; add --force to overwrite it"
    assert signin(env, "db", "backup", str(target), "--force", cwd=tmp_path).returncode == 0
    assert usernames_in(target) == usernames_in(tmp_path / "data" / "signin.db")


def test_dump_loads_into_a_fresh_sqlite(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    demo = make_demo_file(tmp_path / "users.database", demo_rows([*demo_users(25), ("Zoë", "x")]))
    assert signin(env, "import-legacy", str(demo), cwd=tmp_path).returncode == 0
    result = signin(env, "dump", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("BEGIN TRANSACTION;")
    fresh = sqlite3.connect(":memory:")
    fresh.executescript(result.stdout)
    names = {row[0] for row in fresh.execute("SELECT username FROM users")}
    version = fresh.execute("SELECT version_num FROM alembic_version").fetchone()
    fresh.close()
    assert names == usernames_in(tmp_path / "data" / "signin.db")
    assert "Zoë" in names
    assert len(names) == 26
    assert version is not None


def test_reset_refuses_without_yes_then_empties(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    demo = make_demo_file(tmp_path / "users.database", demo_rows(demo_users(10)))
    assert signin(env, "import-legacy", str(demo), cwd=tmp_path).returncode == 0
    refused = signin(env, "db", "reset", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr == "error: refusing to erase every account and session: add --yes\n"
    assert len(usernames_in(tmp_path / "data" / "signin.db")) == 10
    done = signin(env, "db", "reset", "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "schema recreated empty" in done.stdout
    assert usernames_in(tmp_path / "data" / "signin.db") == set()
    with server(env) as proc:  # a usable database again
        created = httpx.post(
            proc.url + "/api/v1/users",
            timeout=10,
            json={"username": "user000001", "password": "fresh start here"},
        )
        assert created.status_code == 201


def test_postgresql_points_to_pg_dump_without_the_password(tmp_path: Path) -> None:
    env = env_for(
        tmp_path / "data", SIGNIN_DATABASE_URL="postgresql://signin:s3cret@127.0.0.1:5432/signin"
    )
    for args in (("dump",), ("db", "backup", str(tmp_path / "b.sql"))):
        result = signin(env, *args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "pg_dump --no-owner --dbname='postgresql://signin@127.0.0.1:5432/signin'" in (
            result.stderr
        )
        assert "s3cret" not in result.stderr
