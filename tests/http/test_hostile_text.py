"""Client text that reaches the admin's terminal is printed as text, escaped (SPEC section 16).

Usernames from failed sign-ins land in `signin locks list`, user agents and usernames in
`signin sessions list` and `signin users list`: rich markup in them must not be read (a `[/x]`
crashed the command, a `[link=...]` made a link) and control characters must not reach the
terminal raw (an ESC sequence recolours or rewrites it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from signin.settings import Settings
from tests.support import CHEAP_ARGON2_ENV, make_settings, run_signin, running_app

PASSWORD = "correct horse battery"
HOSTILE = ["[/x]", "[link=https://evil.example]click[/link]", "red\x1b[31mALERT\x1b[0m", "a\nb"]


@pytest.fixture
def hostile_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", lock_max_failures=1)


def cli_env(settings: Settings) -> dict[str, str]:
    return {"SIGNIN_DATA_DIR": str(settings.data_dir), **CHEAP_ARGON2_ENV}


def assert_safe(output: str) -> None:
    assert "\x1b" not in output
    assert "Traceback" not in output


async def test_locks_list_prints_hostile_usernames_as_text(hostile_settings: Settings) -> None:
    async with running_app(hostile_settings) as client:
        for name in HOSTILE:
            answer = await client.post(
                "/api/v1/session", json={"username": name, "password": "wrong password!"}
            )
            assert answer.status_code in (401, 422)  # control characters: refused at the edge
        # Keys written before the edge refused control characters (or by another client).
        services = client.app.state.services  # type: ignore[attr-defined]
        for name in HOSTILE[2:]:
            await services.lockout.reserve(name.casefold(), None)
    result = run_signin(cli_env(hostile_settings), "locks", "list")
    assert result.returncode == 0, result.stderr
    assert_safe(result.stdout + result.stderr)
    assert "[/x]" in result.stdout
    assert "[link=https://evil.example]click[/link]" in result.stdout
    assert "red\\x1b[31malert\\x1b[0m" in result.stdout  # the canon: case folded
    assert "a\\nb" not in result.stdout
    assert "a\\x0ab" in result.stdout


async def test_sessions_list_prints_hostile_user_agents_as_text(
    hostile_settings: Settings,
) -> None:
    agent = "[/x]\x1b[2J[link=https://e.example]x"  # no browser named: shown as sent
    async with running_app(hostile_settings) as client:
        made = await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
        assert made.status_code == 201
        signed = await client.post(
            "/api/v1/session",
            json={"username": "alice", "password": PASSWORD},
            headers={"user-agent": agent},
        )
        assert signed.status_code == 201
    result = run_signin(cli_env(hostile_settings), "sessions", "list")
    assert result.returncode == 0, result.stderr
    assert_safe(result.stdout + result.stderr)
    assert "[/x]\\x1b[2J[link=https://e.example]x" in result.stdout
