"""SPEC 13 on real stores: enrolment, replayed steps, recovery codes used once, racing codes,
the pending step used once, and the fail lock on wrong codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from signin.accounts.clock import FrozenClock
from signin.accounts.errors import (
    AccountLocked,
    ChallengeInvalid,
    InvalidCode,
    TwoFactorState,
    WrongPassword,
)
from signin.accounts.factors import totp
from signin.accounts.factors.flow import Pending, SignedIn
from signin.services import Services, build_services
from signin.stores.base import UserRecord
from signin.stores.sql.schema import recovery_codes, totp_factors
from tests.backends import fresh_database, need_postgres
from tests.support import make_settings, migrated

PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def built(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Services]:
    clock = FrozenClock(1_800_000_010.0)
    if request.param == "sqlite":
        settings = make_settings(tmp_path / "data")
        services = build_services(settings, clock=clock)
        await migrated(settings.sqlalchemy_url)
        try:
            yield services
        finally:
            await services.close()
        return
    with fresh_database(need_postgres()) as url:
        settings = make_settings(tmp_path / "data", database_url=url)
        services = build_services(settings, clock=clock)
        await migrated(settings.sqlalchemy_url)
        try:
            yield services
        finally:
            await services.close()


def clock_of(services: Services) -> FrozenClock:
    assert isinstance(services.clock, FrozenClock)
    return services.clock


async def enrolled(services: Services, name: str = "alice") -> tuple[UserRecord, str, list[str]]:
    """A user with TOTP on; returns the user, the secret and the recovery codes."""
    user = await services.registration.sign_up(name, PASSWORD, "")
    await services.two_factor.begin(user)
    status = await services.two_factor.status(user)
    assert status.enrolment is not None
    secret = status.enrolment.secret
    codes = await services.two_factor.confirm(user, current(services, secret))
    clock_of(services).advance(totp.STEP_SECONDS)  # the confirming step is used
    return user, secret, codes


def current(services: Services, secret: str, offset: int = 0) -> str:
    return totp.code_at(secret, totp.step_at(services.clock()) + offset)


async def test_enrolment_needs_a_current_code_and_stores_the_secret_sealed(
    built: Services,
) -> None:
    user = await built.registration.sign_up("alice", PASSWORD, "")
    await built.two_factor.begin(user)
    status = await built.two_factor.status(user)
    assert not status.enabled
    assert status.enrolment is not None
    with pytest.raises(InvalidCode):
        await built.two_factor.confirm(user, current(built, status.enrolment.secret, 3))
    assert not await built.two_factor.enabled(user.id)
    codes = await built.two_factor.confirm(user, current(built, status.enrolment.secret))
    assert len(codes) == 10
    assert await built.two_factor.enabled(user.id)
    with pytest.raises(TwoFactorState):
        await built.two_factor.begin(user)
    async with built.engine.connect() as conn:
        sealed = (await conn.execute(sa.select(totp_factors.c.secret))).scalar_one()
        hashes = (await conn.execute(sa.select(recovery_codes.c.code_hash))).scalars().all()
    assert status.enrolment.secret.encode() not in bytes(sealed)
    assert len(hashes) == 10
    assert all(code.encode() not in bytes(h) for code in codes for h in hashes)


async def test_a_time_step_is_used_once(built: Services) -> None:
    user, secret, _ = await enrolled(built)
    code = current(built, secret)
    assert await built.two_factor.verify(user.id, code) == "totp"
    assert await built.two_factor.verify(user.id, code) is None  # replayed
    # An older step, still inside the window, is refused once a newer one was used.
    assert await built.two_factor.verify(user.id, current(built, secret, -1)) is None
    clock_of(built).advance(totp.STEP_SECONDS)
    assert await built.two_factor.verify(user.id, current(built, secret)) == "totp"


async def test_recovery_codes_are_used_once_each(built: Services) -> None:
    user, _, codes = await enrolled(built)
    assert (await built.two_factor.status(user)).recovery_left == 10
    assert await built.two_factor.verify(user.id, codes[0].upper()) == "recovery"
    assert await built.two_factor.verify(user.id, codes[0]) is None
    assert (await built.two_factor.status(user)).recovery_left == 9
    other, _, other_codes = await enrolled(built, "bob")
    assert await built.two_factor.verify(user.id, other_codes[0]) is None  # not alice's
    assert await built.two_factor.verify(other.id, other_codes[0]) == "recovery"


async def test_two_racing_uses_of_one_code_one_wins(built: Services) -> None:
    user, secret, codes = await enrolled(built)
    code = current(built, secret)
    results = await asyncio.gather(*(built.two_factor.verify(user.id, code) for _ in range(2)))
    assert sorted(results, key=str) == [None, "totp"]
    results = await asyncio.gather(*(built.two_factor.verify(user.id, codes[1]) for _ in range(2)))
    assert sorted(results, key=str) == [None, "recovery"]


async def test_password_step_then_code_signs_in_once(built: Services) -> None:
    _, secret, _ = await enrolled(built)
    outcome = await built.sign_in_flow.password_step(
        "Alice", PASSWORD, "192.0.2.1", remember=True, next="/account", sig="s"
    )
    assert isinstance(outcome, Pending)
    assert outcome.methods == ("totp", "recovery")
    done = await built.sign_in_flow.complete(outcome.challenge, current(built, secret), None)
    assert isinstance(done, SignedIn)
    assert (done.two_factor, done.remember, done.next, done.sig) == (True, True, "/account", "s")
    clock_of(built).advance(totp.STEP_SECONDS)
    with pytest.raises(ChallengeInvalid):  # the pending step was used up
        await built.sign_in_flow.complete(outcome.challenge, current(built, secret), None)


async def test_pending_step_expires_after_five_minutes(built: Services) -> None:
    _, secret, _ = await enrolled(built)
    outcome = await built.sign_in_flow.password_step("alice", PASSWORD, None)
    assert isinstance(outcome, Pending)
    assert outcome.expires_at == built.clock() + 300
    clock_of(built).advance(301)
    with pytest.raises(ChallengeInvalid):
        await built.sign_in_flow.complete(outcome.challenge, current(built, secret), None)
    with pytest.raises(ChallengeInvalid):
        await built.sign_in_flow.complete("forged." + outcome.challenge, "123456", None)


async def test_wrong_codes_count_on_the_fail_lock(built: Services) -> None:
    _, secret, _ = await enrolled(built)
    outcome = await built.sign_in_flow.password_step("alice", PASSWORD, None)
    assert isinstance(outcome, Pending)
    wrong = "000000" if current(built, secret) != "000000" else "111111"
    for _ in range(built.settings.lock_max_failures):
        with pytest.raises(InvalidCode):
            await built.sign_in_flow.complete(outcome.challenge, wrong, None)
    with pytest.raises(AccountLocked):  # even the right code, while locked
        await built.sign_in_flow.complete(outcome.challenge, current(built, secret), None)
    # A right password does not clear the count the codes made.
    with pytest.raises(AccountLocked):
        await built.sign_in_flow.password_step("alice", PASSWORD, None)


async def test_password_only_accounts_sign_in_in_one_step(built: Services) -> None:
    await built.registration.sign_up("carol", PASSWORD, "")
    outcome = await built.sign_in_flow.password_step("carol", PASSWORD, None)
    assert isinstance(outcome, SignedIn)
    assert outcome.two_factor is False


async def test_disable_and_new_codes_need_a_code_or_the_password(built: Services) -> None:
    user, secret, codes = await enrolled(built)
    with pytest.raises(WrongPassword):
        await built.two_factor.renew_codes(user, code="", password="nope nope", ip=None)
    with pytest.raises(InvalidCode):
        await built.two_factor.renew_codes(user, code="000001", password="", ip=None)
    fresh = await built.two_factor.renew_codes(user, code="", password=PASSWORD, ip=None)
    assert set(fresh).isdisjoint(codes)
    assert await built.two_factor.verify(user.id, codes[2]) is None  # old codes are gone
    await built.two_factor.disable(user, code=current(built, secret), password="", ip=None)
    assert not await built.two_factor.enabled(user.id)
    assert await built.two_factor.verify(user.id, fresh[0]) is None
    with pytest.raises(TwoFactorState):
        await built.two_factor.disable(user, code="", password=PASSWORD, ip=None)


async def enrolled_under(
    tmp_path: Path, key: str, clock: FrozenClock
) -> tuple[UserRecord, str, list[str]]:
    """`enrolled` on a new database under the master secret `key`."""
    settings = make_settings(tmp_path / "data", secret_key=key)
    services = build_services(settings, clock=clock)
    await migrated(settings.sqlalchemy_url)
    try:
        return await enrolled(services)
    finally:
        await services.close()


async def test_secrets_sealed_under_an_old_key_work_and_move_to_the_new_one(
    tmp_path: Path,
) -> None:
    """SIGNIN_SECRET_KEY rotated with the old one in SIGNIN_SECRET_KEY_FALLBACKS."""
    old, new = "o" * 40, "n" * 40
    clock = FrozenClock(1_800_000_010.0)
    user, secret, codes = await enrolled_under(tmp_path, old, clock)
    rotated = build_services(
        make_settings(tmp_path / "data", secret_key=new, secret_key_fallbacks=old), clock=clock
    )
    try:
        async with rotated.engine.connect() as conn:
            sealed_old = (await conn.execute(sa.select(totp_factors.c.secret))).scalar_one()
        assert await rotated.two_factor.verify(user.id, current(rotated, secret)) == "totp"
        assert await rotated.two_factor.verify(user.id, codes[0]) == "recovery"
        async with rotated.engine.connect() as conn:
            sealed_new = (await conn.execute(sa.select(totp_factors.c.secret))).scalar_one()
        assert sealed_new != sealed_old
    finally:
        await rotated.close()
    after = build_services(make_settings(tmp_path / "data", secret_key=new), clock=clock)
    try:  # the old key dropped: the resealed secret still opens
        clock.advance(totp.STEP_SECONDS)
        assert await after.two_factor.verify(user.id, current(after, secret)) == "totp"
    finally:
        await after.close()


async def test_a_secret_whose_key_was_dropped_is_a_clear_error(tmp_path: Path) -> None:
    clock = FrozenClock(1_800_000_010.0)
    user, secret, _ = await enrolled_under(tmp_path, "o" * 40, clock)
    after = build_services(make_settings(tmp_path / "data", secret_key="n" * 40), clock=clock)
    try:
        with pytest.raises(TwoFactorState, match="signin users two-factor reset"):
            await after.two_factor.verify(user.id, current(after, secret))
        await after.two_factor.reset_by_name("alice")  # the operator's way out
        assert not await after.two_factor.enabled(user.id)
    finally:
        await after.close()
