"""`signin users two-factor reset USERNAME`: a lost phone, handled by an operator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from signin.accounts.factors import totp
from signin.services import build_services
from tests.support import CHEAP_ARGON2_ENV, make_settings, migrated, run_signin

PASSWORD = "correct horse battery"


async def enrolled_user(data_dir: Path) -> None:
    settings = make_settings(data_dir)
    services = build_services(settings)
    try:
        await migrated(settings.sqlalchemy_url)
        user = await services.registration.sign_up("Alice", PASSWORD, "")
        await services.two_factor.begin(user)
        status = await services.two_factor.status(user)
        assert status.enrolment is not None
        secret = status.enrolment.secret
        await services.two_factor.confirm(
            user, totp.code_at(secret, totp.step_at(services.clock()))
        )
        assert await services.two_factor.enabled(user.id)
    finally:
        await services.close()


async def is_enabled(data_dir: Path) -> bool:
    services = build_services(make_settings(data_dir))
    try:
        user = await services.users.by_canon("alice")
        assert user is not None
        return await services.two_factor.enabled(user.id)
    finally:
        await services.close()


def test_reset_removes_the_factor_and_says_so_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    asyncio.run(enrolled_user(data_dir))
    env = {"SIGNIN_DATA_DIR": str(data_dir), **CHEAP_ARGON2_ENV}
    done = run_signin(env, "users", "two-factor", "reset", "ALICE", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "two-factor sign-in turned off for Alice"
    assert asyncio.run(is_enabled(data_dir)) is False
    again = run_signin(env, "users", "two-factor", "reset", "alice", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr == "error: Alice has no second factor\n"
    nobody = run_signin(env, "users", "two-factor", "reset", "nobody", cwd=tmp_path)
    assert nobody.returncode == 1
    assert nobody.stderr == "error: no account named 'nobody'\n"
