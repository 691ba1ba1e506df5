"""The command line: help, prehash, config, db upgrade, users (against a running server), errors."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from signin.cli import app
from signin.crypto.prehash import prehash_v1
from tests.support import CHEAP_ARGON2_ENV, ServerProcess, run_signin

PASSWORD = "correct horse battery"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("SIGNIN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return {"SIGNIN_DATA_DIR": str(tmp_path / "data"), **CHEAP_ARGON2_ENV}


def run(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env, input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def signin_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # rich's own width: these tests check what a narrow pipe shows.
    return run_signin(env, *args, columns=None, timeout=60)


def assert_one_line_error(stderr: str, *needles: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in stderr


def test_help_lists_every_command(env: dict[str, str]) -> None:
    done = signin_process(env, "--help")
    assert done.returncode == 0
    listed = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line]
    # Serving first, then people, then data: not click's alphabetical order.
    assert listed[:2] == ["serve", "config"]
    assert listed.index("users") < listed.index("db") < listed.index("prehash")
    assert "SIGNIN_" in done.stdout
    assert "signin config" in done.stdout
    code, out, _ = run(env, "users", "--help")
    assert code == 0
    for command in ("list", "create", "disable", "delete"):
        assert command in out


def test_help_has_no_type_noise_anywhere(env: dict[str, str]) -> None:
    """Every command's --help, groups included: flags without `<bool>`, no box drawing."""
    import typer.main

    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:  # a click Command
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    paths = list(walk(typer.main.get_command(app), []))
    assert len(paths) > 10
    for path in paths:
        code, out, _ = run(env, *path, "--help")
        assert code == 0, path
        assert "<bool>" not in out, path
        assert "╭" not in out, path
        assert "Usage: " in out, path


def test_a_mistyped_command_line_is_one_line(env: dict[str, str]) -> None:
    """click's own answer was four lines (usage, hint, blank, error)."""
    for args, needle in [
        (("audit", "--limit", "-5"), "--limit"),
        (("nosuch",), "No such command 'nosuch'"),
        (("users", "delete"), "Missing argument"),
        (("locks", "list", "--bogus"), "--bogus"),
    ]:
        done = signin_process(env, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert_one_line_error(done.stderr, needle, "--help")
    grouped = signin_process(env, "users")  # a group alone still shows its commands
    assert "Commands:" in grouped.stdout + grouped.stderr
    assert "error:" not in grouped.stderr


def test_bad_setting_is_one_line_without_traceback(env: dict[str, str]) -> None:
    done = signin_process({**env, "SIGNIN_LOCK_MAX_FAILURES": "0"}, "serve", "--port", "1")
    assert done.returncode != 0
    assert_one_line_error(done.stderr, "SIGNIN_LOCK_MAX_FAILURES")
    assert not (Path(env["SIGNIN_DATA_DIR"]) / "signin.db").exists()  # never half-started
    for variable, value in [
        ("SIGNIN_COOKIE_SECURE", "maybe"),
        ("SIGNIN_SECRET_KEY", "short"),
        ("SIGNIN_TRUSTED_PROXIES", "garbage"),
        ("SIGNIN_PUBLIC_URL", "x" * 300),
    ]:
        code, _, err = run({**env, variable: value}, "config")
        assert code != 0
        assert_one_line_error(err, variable)


def test_serve_refuses_group_readable_key(env: dict[str, str]) -> None:
    data = Path(env["SIGNIN_DATA_DIR"])
    data.mkdir()
    key = data / "secret.key"
    key.write_text("k" * 48 + "\n")
    key.chmod(0o640)
    done = signin_process(env, "serve", "--port", "1")
    assert done.returncode != 0
    assert_one_line_error(done.stderr, str(key), "chmod 600")
    assert key.read_text() == "k" * 48 + "\n"  # never rewritten


def test_prehash_reads_stdin(env: dict[str, str]) -> None:
    code, out, _ = run(env, "prehash", "Zoë", input="pässwörd\n")
    assert code == 0
    assert out.strip() == prehash_v1("zoë", "pässwörd")
    code, out, _ = run(env, "prehash", "ALICE", input="secret with spaces \r\n")
    assert out.strip() == prehash_v1("alice", "secret with spaces ")
    code, _, err = run(env, "prehash", "alice", input="")
    assert code != 0
    assert_one_line_error(err, "no password")


def test_config_masks_secrets(env: dict[str, str]) -> None:
    secrets_env = {
        **env,
        "SIGNIN_SECRET_KEY": "TopSecretKeyValue-" + "z" * 20,
        "SIGNIN_DATABASE_URL": "postgresql://app:DbPassw0rd@db.example/signin",
        "SIGNIN_SMTP_URL": "smtp://mailer:SmtpPassw0rd@mail.example:587",
    }
    code, out, _ = run(secrets_env, "config")
    assert code == 0
    for secret in ("TopSecretKeyValue", "DbPassw0rd", "SmtpPassw0rd"):
        assert secret not in out
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert lines["SIGNIN_SECRET_KEY"] == "********"
    assert lines["SIGNIN_DATABASE_URL"] == "postgresql://app:****@db.example/signin"
    assert lines["SIGNIN_LOCK_MAX_FAILURES"] == "3"
    assert lines["SIGNIN_DATA_DIR"] == env["SIGNIN_DATA_DIR"]


def test_db_upgrade_creates_schema(env: dict[str, str]) -> None:
    code, out, _ = run(env, "db", "upgrade")
    assert code == 0
    assert out.startswith("created the database schema at revision ")
    db = Path(env["SIGNIN_DATA_DIR"]) / "signin.db"
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"users", "sessions", "fail_locks", "alembic_version"} <= tables
    assert mode == "wal"
    code, out, _ = run(env, "db", "upgrade")  # idempotent, and says so
    assert code == 0
    assert out.startswith("database schema is up to date (revision ")


def test_db_upgrade_says_from_which_revision(env: dict[str, str]) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from signin.stores.migrate import alembic_config

    db = Path(env["SIGNIN_DATA_DIR"]) / "signin.db"
    db.parent.mkdir()
    config = alembic_config(f"sqlite+aiosqlite:///{db}")
    revisions = list(ScriptDirectory.from_config(config).walk_revisions())
    first, head = revisions[-1].revision, revisions[0].revision
    command.upgrade(config, first)
    code, out, _ = run(env, "db", "upgrade")
    assert code == 0
    if first == head:
        assert out.strip() == f"database schema is up to date (revision {head})"
    else:
        assert out.strip() == f"upgraded the database schema from revision {first} to {head}"


def test_busy_port_is_one_line(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = signin_process(env, "serve", "--port", str(port))
    assert done.returncode != 0
    assert_one_line_error(done.stderr, f"127.0.0.1:{port}", "in use")


def test_bad_tls_files_are_one_line(env: dict[str, str], tmp_path: Path) -> None:
    done = signin_process(env, "serve", "--port", "1", "--certfile", str(tmp_path / "none.pem"))
    assert done.returncode != 0
    assert_one_line_error(done.stderr, "none.pem", "no such file")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    done = signin_process(env, "serve", "--port", "1", "--certfile", str(junk))
    assert done.returncode != 0
    assert_one_line_error(done.stderr, "junk.pem")
    done = signin_process(env, "serve", "--port", "1", "--keyfile", str(junk))
    assert_one_line_error(done.stderr, "--keyfile needs --certfile")


def test_config_spells_booleans_as_the_docs(env: dict[str, str]) -> None:
    code, out, _ = run({**env, "SIGNIN_REQUIRE_EMAIL": "1"}, "config")
    assert code == 0
    assert "SIGNIN_REQUIRE_EMAIL=true" in out.splitlines()
    code, out, _ = run(env, "config")
    assert "SIGNIN_REQUIRE_EMAIL=false" in out.splitlines()


def test_users_create_validates(env: dict[str, str]) -> None:
    code, _, err = run(env, "users", "create", "a b", input="password\n")
    assert code != 0
    assert_one_line_error(err, "Username may contain only", "too common")
    assert run(env, "users", "create", "alice", input=PASSWORD + "\n")[0] == 0
    code, _, err = run(env, "users", "create", "ALICE", input=PASSWORD + "\n")
    assert code != 0
    assert_one_line_error(err, "taken")
    code, _, err = run(env, "users", "disable", "nobody")
    assert code != 0
    assert_one_line_error(err, "nobody")


@pytest.fixture
def live(env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(env, log_path=tmp_path / "server.log").start()
    try:
        yield process
    finally:
        process.stop()


def sign_in(process: ServerProcess, username: str) -> str:
    response = httpx.post(
        f"{process.url}/api/v1/session",
        json={"username": username, "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def signed_in(process: ServerProcess, token: str) -> bool:
    cookie = httpx.get(f"{process.url}/welcome", cookies={"session": token}, timeout=10)
    return cookie.status_code == 200


@pytest.mark.slow
def test_users_commands_while_the_server_runs(env: dict[str, str], live: ServerProcess) -> None:
    assert (
        run(env, "users", "create", "Alice", "--email", "a@example.com", input=PASSWORD + "\n")[0]
        == 0
    )
    assert run(env, "users", "create", "bob", input=PASSWORD + "\n")[0] == 0
    code, out, _ = run(env, "users", "list")
    assert code == 0
    assert "Alice" in out
    assert "a@example.com" in out
    assert "bob" in out

    token, bob = sign_in(live, "alice"), sign_in(live, "bob")
    assert signed_in(live, token)
    code, out, _ = run(env, "users", "disable", "ALICE")
    assert code == 0
    assert "disabled Alice" in out
    assert not signed_in(live, token)  # the session ended
    response = httpx.post(
        f"{live.url}/api/v1/session", json={"username": "alice", "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 401  # and no new one can start
    assert signed_in(live, bob)  # other users untouched

    assert run(env, "users", "disable", "alice", "--enable")[0] == 0
    token = sign_in(live, "alice")
    missing = signin_process(env, "users", "delete", "nobody")  # no question about no one
    assert missing.returncode == 1
    assert "Delete" not in missing.stdout
    assert_one_line_error(missing.stderr, "No account named 'nobody'")
    kept = run(env, "users", "delete", "alice", input="n\n")
    assert kept[0] == 1
    assert "Delete Alice?" in kept[1]
    assert "Alice" in run(env, "users", "list")[1]
    assert run(env, "users", "delete", "alice", "--yes")[0] == 0
    assert not signed_in(live, token)
    assert "Alice" not in run(env, "users", "list")[1]
    assert signed_in(live, bob)


def test_data_dir_that_is_a_file_is_one_line(env: dict[str, str]) -> None:
    blocker = Path(env["SIGNIN_DATA_DIR"])
    blocker.write_text("not a directory")
    for extra in ({}, {"SIGNIN_SECRET_KEY": "k" * 40}):
        code, _, err = run({**env, **extra}, "db", "upgrade")
        assert code != 0
        assert_one_line_error(err, str(blocker))
