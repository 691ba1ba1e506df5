"""`signin users reset-link` and `signin sessions list|end` as real subprocesses."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from signin.services import build_services
from signin.settings import Settings
from signin.stores import migrate
from tests.support import make_settings, run_signin

PUBLIC = "https://auth.example.test"


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    settings = {"SIGNIN_DATA_DIR": str(data), "SIGNIN_PUBLIC_URL": PUBLIC}
    return run_signin(settings, *args, timeout=60)


async def seed(settings: Settings) -> list[str]:
    """Two users; zoe has two sessions, max one. Returns the session ids (zoe, zoe, max)."""
    services = build_services(settings)  # creates the data dir
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
    try:
        ids = []
        for name, agent in (
            ("zoe", "curl/8.5"),
            ("zoe", "Firefox/128.0 (X11; Linux)"),
            ("max", None),
        ):
            user = await services.users.by_canon(name)
            if user is None:
                user = await services.registration.sign_up(
                    name, "correct horse battery", f"{name}@example.com"
                )
            issued = await services.sessions.issue(
                user.id, remember=False, ip="192.0.2.1", user_agent=agent
            )
            ids.append(issued.record.id)
        return ids
    finally:
        await services.close()


async def live_ids(settings: Settings) -> set[str]:
    services = build_services(settings)
    try:
        return {record.id for record in await services.session_store.list_all()}
    finally:
        await services.close()


async def test_sessions_list_and_end(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", public_url=PUBLIC)
    zoe_curl, zoe_firefox, max_id = await seed(settings)
    listed = cli(settings.data_dir, "sessions", "list")
    assert listed.returncode == 0, listed.stderr
    for sid in (zoe_curl, zoe_firefox, max_id):
        assert sid in listed.stdout
    assert "Firefox on Linux" in listed.stdout
    only_zoe = cli(settings.data_dir, "sessions", "list", "ZOE")
    assert zoe_curl in only_zoe.stdout
    assert max_id not in only_zoe.stdout

    ended = cli(settings.data_dir, "sessions", "end", zoe_curl)
    assert ended.returncode == 0, ended.stderr
    assert await live_ids(settings) == {zoe_firefox, max_id}

    by_user = cli(settings.data_dir, "sessions", "end", "--user", "zoe")
    assert by_user.returncode == 0
    assert "ended 1 session of zoe" in by_user.stdout
    assert await live_ids(settings) == {max_id}

    for args, message in (
        (("sessions", "end", "nope"), "no session with id 'nope'"),
        (("sessions", "end"), "give a session ID or --user NAME"),
        (("sessions", "end", "--user", "ghost"), "No account named"),
    ):
        failed = cli(settings.data_dir, *args)
        assert failed.returncode != 0
        assert failed.stderr.count("\n") == 1, failed.stderr
        assert message in failed.stderr


async def test_reset_link_prints_a_working_one_time_link(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", public_url=PUBLIC)
    await seed(settings)
    printed = cli(settings.data_dir, "users", "reset-link", "Zoe")
    assert printed.returncode == 0, printed.stderr
    link = printed.stdout.strip()
    assert link.startswith(PUBLIC + "/reset-password?token=")
    assert not list((settings.data_dir / "outbox").glob("*.eml")), "no mail is sent"
    services = build_services(settings)
    try:
        token = link.split("token=", 1)[1]
        user = await services.resets.reset(token, "a brand new passphrase", ip=None)
        assert user.username == "zoe"
        assert await services.session_store.list_for_user(user.id) == []
    finally:
        await services.close()
    unknown = cli(settings.data_dir, "users", "reset-link", "ghost")
    assert unknown.returncode == 1
    assert unknown.stderr == "error: No account named 'ghost'.\n"
