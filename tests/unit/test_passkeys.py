"""The passkey ceremony glue (accounts/factors/passkeys.py) against a software authenticator.

py_webauthn does the cryptography; these pin our part: single-use, browser-held challenges that
expire, the user-verification policy, counters, disabled and removed credentials, names.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signin.accounts.clock import FrozenClock
from signin.accounts.errors import (
    CeremonyExpired,
    InvalidInput,
    NotFound,
    PasskeyNotAdded,
    PasskeyRefused,
    PasskeyTaken,
)
from signin.accounts.factors.challenges import CHALLENGE_SECONDS
from signin.accounts.factors.passkeys import MAX_PASSKEYS, Passkeys, clean_name
from signin.services import Services, build_services
from signin.settings import SettingsError, load_settings
from signin.stores.base import NewUser, UserRecord
from tests.softkey import SoftKey
from tests.support import make_settings, migrated

ORIGIN = "http://localhost:8000"


@pytest.fixture
async def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def services(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Services]:
    settings = make_settings(tmp_path / "data", public_url=ORIGIN)
    built = build_services(settings, clock=clock)
    await migrated(settings.sqlalchemy_url)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def passkeys(services: Services) -> Passkeys:
    return services.passkeys


async def make_user(services: Services, name: str) -> UserRecord:
    return await services.users.create(NewUser(name, name, None, None, "x", 1.0))


async def registered(passkeys: Passkeys, user: UserRecord, name: str = "Laptop") -> SoftKey:
    key = SoftKey("localhost", ORIGIN)
    ceremony = await passkeys.registration_options(user)
    await passkeys.register(user, ceremony.state, key.create(ceremony.options), name)
    return key


async def test_options_ask_for_a_discoverable_credential_on_the_public_host(
    services: Services, passkeys: Passkeys
) -> None:
    alice = await make_user(services, "alice")
    options = (await passkeys.registration_options(alice)).options
    assert options["rp"] == {"id": "localhost", "name": "signin"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none"
    assert options["timeout"] == CHALLENGE_SECONDS * 1000
    request = (await passkeys.sign_in_options()).options
    assert request["rpId"] == "localhost"
    assert request["userVerification"] == "required"
    assert request["allowCredentials"] == []


async def test_register_then_sign_in_records_the_use(
    services: Services, passkeys: Passkeys, clock: FrozenClock
) -> None:
    alice = await make_user(services, "alice")
    key = await registered(passkeys, alice, "  Laptop  ")
    [stored] = await passkeys.list(alice.id)
    assert (stored.name, stored.last_used_at, stored.created_at) == ("Laptop", None, clock())
    assert stored.transports == ("internal", "hybrid")
    clock.advance(10)
    ceremony = await passkeys.sign_in_options()
    user = await passkeys.sign_in(ceremony.state, key.get(ceremony.options))
    assert user.id == alice.id
    [used] = await passkeys.list(alice.id)
    assert (used.last_used_at, used.sign_count) == (clock(), 1)


async def test_a_second_passkey_shares_the_user_handle_and_excludes_the_first(
    services: Services, passkeys: Passkeys
) -> None:
    alice = await make_user(services, "alice")
    first = await registered(passkeys, alice)
    options = (await passkeys.registration_options(alice)).options
    assert [item["id"] for item in options["excludeCredentials"]] == [
        options["excludeCredentials"][0]["id"]
    ]
    second = await registered(passkeys, alice, "Phone")
    assert first.user_handle == second.user_handle
    assert [p.name for p in await passkeys.list(alice.id)] == ["Laptop", "Phone"]


async def test_a_challenge_answers_once(services: Services, passkeys: Passkeys) -> None:
    alice = await make_user(services, "alice")
    key = await registered(passkeys, alice)
    ceremony = await passkeys.sign_in_options()
    await passkeys.sign_in(ceremony.state, key.get(ceremony.options))
    with pytest.raises(CeremonyExpired):
        await passkeys.sign_in(ceremony.state, key.get(ceremony.options))


async def test_concurrent_answers_to_one_challenge_one_wins(
    services: Services, passkeys: Passkeys
) -> None:
    alice = await make_user(services, "alice")
    key = await registered(passkeys, alice)
    ceremony = await passkeys.sign_in_options()
    answers = [key.get(ceremony.options) for _ in range(4)]
    results = await asyncio.gather(
        *(passkeys.sign_in(ceremony.state, answer) for answer in answers), return_exceptions=True
    )
    assert sum(isinstance(r, UserRecord) for r in results) == 1
    assert all(isinstance(r, UserRecord | CeremonyExpired) for r in results)


async def test_a_challenge_expires_after_five_minutes(
    services: Services, passkeys: Passkeys, clock: FrozenClock
) -> None:
    alice = await make_user(services, "alice")
    key = await registered(passkeys, alice)
    ceremony = await passkeys.sign_in_options()
    clock.advance(CHALLENGE_SECONDS)
    with pytest.raises(CeremonyExpired):
        await passkeys.sign_in(ceremony.state, key.get(ceremony.options))
    late = await passkeys.registration_options(alice)
    clock.advance(CHALLENGE_SECONDS - 1)
    await passkeys.register(
        alice, late.state, SoftKey("localhost", ORIGIN).create(late.options), "ok"
    )


async def test_state_of_another_kind_user_or_forged_is_refused(
    services: Services, passkeys: Passkeys
) -> None:
    alice, bob = await make_user(services, "alice"), await make_user(services, "bob")
    key = await registered(passkeys, alice)
    for_alice = await passkeys.registration_options(alice)
    with pytest.raises(CeremonyExpired):  # a registration started by alice, finished as bob
        await passkeys.register(bob, for_alice.state, key.create(for_alice.options), "x")
    with pytest.raises(CeremonyExpired):  # a registration state is no sign-in state
        await passkeys.sign_in(for_alice.state, key.get(for_alice.options))
    ceremony = await passkeys.sign_in_options()
    for forged in ("", "x" * 2000, ceremony.state[:-2] + "AA"):
        with pytest.raises(CeremonyExpired):
            await passkeys.sign_in(forged, key.get(ceremony.options))
    second = await passkeys.second_step_options(bob.id)
    with pytest.raises(CeremonyExpired):  # bob's second step, answered for alice
        await passkeys.second_step(alice.id, second.state, key.get(second.options))


async def test_passwordless_needs_user_verification_second_step_does_not(
    services: Services, passkeys: Passkeys
) -> None:
    alice = await make_user(services, "alice")
    key = await registered(passkeys, alice)
    ceremony = await passkeys.sign_in_options()
    with pytest.raises(PasskeyRefused):
        await passkeys.sign_in(ceremony.state, key.get(ceremony.options, uv=False))
    second = await passkeys.second_step_options(alice.id)
    allowed = second.options["allowCredentials"]
    assert [item["id"] for item in allowed] == [key.get(second.options)["id"]]
    second = await passkeys.second_step_options(alice.id)
    user = await passkeys.second_step(alice.id, second.state, key.get(second.options, uv=False))
    assert user.id == alice.id


async def test_second_step_refuses_another_users_passkey(
    services: Services, passkeys: Passkeys
) -> None:
    alice, bob = await make_user(services, "alice"), await make_user(services, "bob")
    await registered(passkeys, alice)
    bobs = await registered(passkeys, bob)
    second = await passkeys.second_step_options(alice.id)
    with pytest.raises(PasskeyRefused):
        await passkeys.second_step(alice.id, second.state, bobs.get(second.options))


async def test_counter_going_backwards_is_refused_zero_counters_pass(
    services: Services, passkeys: Passkeys
) -> None:
    alice = await make_user(services, "alice")
    key = await registered(passkeys, alice)
    for step in (5, 1):
        ceremony = await passkeys.sign_in_options()
        await passkeys.sign_in(ceremony.state, key.get(ceremony.options, count_step=step))
    for step in (-2, 0):  # backwards, and standing still while non-zero
        ceremony = await passkeys.sign_in_options()
        with pytest.raises(PasskeyRefused):
            await passkeys.sign_in(ceremony.state, key.get(ceremony.options, count_step=step))
    assert (await passkeys.list(alice.id))[0].sign_count == 6
    counterless = await registered(passkeys, alice, "No counter")
    for _ in range(2):  # an authenticator that keeps no counter answers 0 every time
        ceremony = await passkeys.sign_in_options()
        await passkeys.sign_in(ceremony.state, counterless.get(ceremony.options, count_step=0))


async def test_disabled_deleted_and_removed_are_refused(
    services: Services, passkeys: Passkeys
) -> None:
    alice, bob = await make_user(services, "alice"), await make_user(services, "bob")
    alices, bobs = await registered(passkeys, alice), await registered(passkeys, bob)
    await services.users.set_disabled(alice.id, True)
    ceremony = await passkeys.sign_in_options()
    with pytest.raises(PasskeyRefused):
        await passkeys.sign_in(ceremony.state, alices.get(ceremony.options))
    await services.users.delete(bob.id)
    ceremony = await passkeys.sign_in_options()
    with pytest.raises(PasskeyRefused):
        await passkeys.sign_in(ceremony.state, bobs.get(ceremony.options))
    await services.users.set_disabled(alice.id, False)
    [stored] = await passkeys.list(alice.id)
    with pytest.raises(NotFound):  # not bob's to remove (and bob is gone)
        await passkeys.remove(bob.id, stored.id)
    assert (await passkeys.remove(alice.id, stored.id)).name == "Laptop"
    ceremony = await passkeys.sign_in_options()
    with pytest.raises(PasskeyRefused):
        await passkeys.sign_in(ceremony.state, alices.get(ceremony.options))


async def test_wrong_origin_rp_id_handle_or_garbage_is_refused(
    services: Services, passkeys: Passkeys
) -> None:
    alice = await make_user(services, "alice")
    key = await registered(passkeys, alice)
    bent = [
        {"origin": "http://localhost:9999"},
        {"rp_id": "evil.example"},
        {"user_handle": b"someone else"},
    ]
    for change in bent:
        ceremony = await passkeys.sign_in_options()
        with pytest.raises(PasskeyRefused):
            await passkeys.sign_in(ceremony.state, key.get(ceremony.options, **change))  # type: ignore[arg-type]
    for garbage in (None, [], {}, {"id": "x", "rawId": "x", "response": {}}):
        ceremony = await passkeys.sign_in_options()
        with pytest.raises(PasskeyRefused):
            await passkeys.sign_in(ceremony.state, garbage)


async def test_registration_refusals(services: Services, passkeys: Passkeys) -> None:
    alice, bob = await make_user(services, "alice"), await make_user(services, "bob")
    key = await registered(passkeys, alice)
    ceremony = await passkeys.registration_options(bob)
    with pytest.raises(PasskeyTaken):  # one credential, one account
        await passkeys.register(bob, ceremony.state, key.create(ceremony.options), "mine")
    ceremony = await passkeys.registration_options(bob)
    fresh = SoftKey("localhost", ORIGIN)
    with pytest.raises(PasskeyNotAdded):
        await passkeys.register(
            bob, ceremony.state, fresh.create(ceremony.options, origin="http://evil"), "x"
        )
    ceremony = await passkeys.registration_options(bob)
    with pytest.raises(InvalidInput):  # the name is checked before the challenge is used
        await passkeys.register(bob, ceremony.state, fresh.create(ceremony.options), " ")
    await passkeys.register(bob, ceremony.state, fresh.create(ceremony.options), "Phone")


async def test_an_account_holds_a_bounded_number(services: Services, passkeys: Passkeys) -> None:
    alice = await make_user(services, "alice")
    for number in range(MAX_PASSKEYS):
        await registered(passkeys, alice, f"key {number}")
    with pytest.raises(InvalidInput):
        await passkeys.registration_options(alice)


@pytest.mark.parametrize(
    ("typed", "kept"), [("Phone", "Phone"), (" Ｐhone ", "Phone"), ("Zoë's key", "Zoë's key")]
)
def test_clean_name_keeps(typed: str, kept: str) -> None:
    assert clean_name(typed) == kept


@pytest.mark.parametrize("typed", ["", "   ", "x" * 65, "a\x00b", "tab\there"])
def test_clean_name_refuses(typed: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_name(typed)
    assert caught.value.problems[0].field == "name"


@pytest.mark.parametrize(
    ("public_url", "rp_id", "want_id", "want_origin"),
    [
        ("http://localhost:8000/", None, "localhost", "http://localhost:8000"),
        (
            "https://Login.Example.com:443/auth",
            None,
            "login.example.com",
            "https://login.example.com",
        ),
        (
            "https://login.example.com:8443",
            "Example.COM",
            "example.com",
            "https://login.example.com:8443",
        ),
        ("http://[::1]:80", None, "::1", "http://[::1]"),
    ],
)
def test_relying_party_from_settings(
    tmp_path: Path, public_url: str, rp_id: str | None, want_id: str, want_origin: str
) -> None:
    settings = make_settings(tmp_path, public_url=public_url, webauthn_rp_id=rp_id)
    assert settings.passkey_rp_id == want_id
    assert settings.public_origin == want_origin


@pytest.mark.parametrize("rp_id", ["other.example", "ample.com", "*.example.com", "example.com:1"])
def test_a_relying_party_id_must_cover_the_public_host(tmp_path: Path, rp_id: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            _env_file=None,
            data_dir=tmp_path,
            public_url="https://login.example.com",
            webauthn_rp_id=rp_id,
        )
    assert str(caught.value).startswith("SIGNIN_WEBAUTHN_RP_ID")
