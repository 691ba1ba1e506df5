"""The CLI imports its heavy libraries only where a command uses them (issue 27).

Timings belong in bench/cli_startup.py; these tests pin what makes them: which modules a
command loads. Each runs the real `signin` in a fresh interpreter and lists `sys.modules`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import CHEAP_ARGON2_ENV, run_signin

# Loaded by no command that does not need them: `signin oidc` imports authlib and joserfc inside
# its commands, the pages' translations load babel only when a page or mail is rendered.
NEVER_AT_START = (
    "alembic",
    "argon2",
    "asyncpg",
    "authlib",
    "babel",
    "cryptography",
    "fastapi",
    "joserfc",
    "jinja2",
    "prometheus_client",
    "redis",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "webauthn",
    "signin.services",
    "signin.app",
    "signin.web",
)
# `--help` needs typer and nothing of the service: no settings, no tables, no domain.
NOT_FOR_HELP = (*NEVER_AT_START, "pydantic", "pydantic_settings", "rich", "signin.settings")

PROBE = """
import sys
sys.argv = ["signin", *sys.argv[1:]]
from signin.cli import main
try:
    main()
finally:
    sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)) + "\\n")
"""


def loaded_by(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SIGNIN_")}
    full.update(CHEAP_ARGON2_ENV, COLUMNS="200", **env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))
    return done, set(line.split()[1:])


def heavy(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name in modules if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SIGNIN_DATA_DIR": str(tmp_path / "data")}


def test_help_loads_typer_and_nothing_of_the_service(env: dict[str, str]) -> None:
    done, modules = loaded_by(env, "--help")
    assert done.returncode == 0, done.stderr
    assert "locks" in done.stdout
    assert "users" in done.stdout
    assert heavy(modules, NOT_FOR_HELP) == []
    assert "signin.cli.users" in modules  # the probe did see the command modules


@pytest.mark.parametrize("command", [("users", "list"), ("locks", "list")])
def test_sqlite_reads_need_no_sqlalchemy_alembic_or_webauthn(
    env: dict[str, str], command: tuple[str, ...]
) -> None:
    assert run_signin(env, "db", "upgrade").returncode == 0  # the database exists, at head
    done, modules = loaded_by(env, *command)
    assert done.returncode == 0, done.stderr
    assert heavy(modules, NEVER_AT_START) == []


def test_a_new_database_still_goes_through_the_services(env: dict[str, str]) -> None:
    """No file yet: the stores create and migrate it, as before (then the fast path serves)."""
    done, modules = loaded_by(env, "users", "list")
    assert done.returncode == 0, done.stderr
    assert "alembic" in modules
    assert "sqlalchemy.ext.asyncio" in modules
    assert (Path(env["SIGNIN_DATA_DIR"]) / "signin.db").is_file()
    assert heavy(modules, ("webauthn", "jinja2", "cryptography", "asyncpg")) == []


def test_constants_written_out_for_help_agree_with_the_domain() -> None:
    from signin.accounts.access.gate import Outcome
    from signin.accounts.access.invites import DEFAULT_SECONDS
    from signin.cli import access, invites

    assert invites.DEFAULT_SECONDS == DEFAULT_SECONDS
    assert set(access.ANSWERS) == {outcome.value for outcome in Outcome}


def test_the_head_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from signin.stores import migrate

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert migrate.head_revision() == script.get_current_head()
