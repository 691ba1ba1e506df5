"""`signin import-legacy` and `signin db reset` against a real PostgreSQL, through the CLI."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.backends import fresh_database, need_postgres
from tests.demo_db import demo_rows, demo_users, make_demo_file
from tests.support import CHEAP_ARGON2_ENV, server
from tests.support import run_signin as signin


def test_import_into_postgresql_then_sign_in_then_reset(tmp_path: Path) -> None:
    url = need_postgres()
    users = demo_users(300)
    demo = make_demo_file(tmp_path / "users.database", demo_rows([*users, ("Alice", "Wonder 1")]))
    with fresh_database(url) as database_url:
        env = {
            "SIGNIN_DATA_DIR": str(tmp_path / "data"),
            "SIGNIN_DATABASE_URL": database_url,
            **CHEAP_ARGON2_ENV,
        }
        first = signin(env, "import-legacy", str(demo), "--batch", "64", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "imported 301 of 301 rows" in first.stdout
        second = signin(env, "import-legacy", str(demo), cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "nothing imported" in second.stdout
        assert "301 already here" in second.stdout
        with server(env) as proc:
            for name, password in (users[0], users[150], users[299], ("Alice", "Wonder 1")):
                body = {"username": name, "password": password}
                answer = httpx.post(proc.url + "/api/v1/session", json=body, timeout=10)
                assert answer.status_code == 201, (name, answer.text)
        refused = signin(env, "db", "reset", cwd=tmp_path)
        assert refused.returncode == 1
        reset = signin(env, "db", "reset", "--yes", cwd=tmp_path)
        assert reset.returncode == 0, reset.stderr
        again = signin(env, "import-legacy", str(demo), cwd=tmp_path)
        assert "imported 301 of 301 rows" in again.stdout  # the reset emptied the users table
