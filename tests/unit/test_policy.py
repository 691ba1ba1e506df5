"""Password policy (SPEC section 2) on the plaintext and the pre-hash path, with stable codes."""

from __future__ import annotations

import pytest

from signin.accounts.policy import MAX_LENGTH, PasswordPolicy
from signin.crypto.common_passwords import CommonPasswords
from signin.crypto.prehash import prehash_v1

POLICY = PasswordPolicy(8)
assert len("kq7-zvw" * 146 + "kq") == MAX_LENGTH


def codes(problems: list) -> list[str]:  # type: ignore[type-arg]
    return [p.code for p in problems]


def test_packaged_list_is_large() -> None:
    assert len(CommonPasswords()) >= 10_000


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        ("alice", "correct horse battery", []),
        ("alice", "short", ["password_too_short"]),
        ("alice", "kq7-zvw", ["password_too_short"]),
        ("alice", "kq7-zvw" * 146 + "kq", []),  # exactly 1024
        ("alice", "kq7-zvw" * 146 + "kq7", ["password_too_long"]),
        # Length counts characters after NFKC, not bytes: 8 two-byte letters are enough.
        ("alice", "äöüäöüäö", []),
        ("alice", "password", ["password_too_common"]),
        ("alice", "Password", ["password_too_common"]),
        ("alice", "PASSWORD", ["password_too_common"]),
        ("alice", "iloveyou", ["password_too_common"]),
        ("Zephyrine", "Zephyrine", ["password_is_username"]),  # as typed
        ("Zephyrine", "zephyrine", ["password_is_username"]),  # canon form
        ("Straßenbahn", "strassenbahn", ["password_is_username"]),
        ("Zephyrine", "ZEPHYRINE", []),  # neither typed nor canon: allowed
        ("ab1", "ab1", ["password_too_short", "password_is_username"]),
    ],
)
def test_plain_codes(username: str, password: str, expected: list[str]) -> None:
    assert codes(POLICY.plain_problems(username, password)) == expected


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        ("alice", "correct horse battery", []),
        ("alice", "password", ["password_too_common"]),
        ("alice", "Password", ["password_too_common"]),
        ("alice", "PASSWORD", ["password_too_common"]),
        ("ALICE", "password", ["password_too_common"]),  # the sweep uses canon(username)
        ("Zephyrine", "Zephyrine", ["password_is_username"]),
        ("Zephyrine", "zephyrine", ["password_is_username"]),
        ("Straßenbahn", "strassenbahn", ["password_is_username"]),
        ("Zephyrine", "ZEPHYRINE", []),
    ],
)
def test_prehash_codes(username: str, password: str, expected: list[str]) -> None:
    assert codes(POLICY.prehash_problems(username, prehash_v1(username, password))) == expected


async def test_check_returns_the_prehash_to_store_on_both_paths() -> None:
    plain = await POLICY.check("Alice", "correct horse battery")
    pre = await POLICY.check("Alice", prehash_v1("alice", "correct horse battery"))
    assert plain == pre == (prehash_v1("alice", "correct horse battery"), [])
    refused = await POLICY.check("Alice", prehash_v1("alice", "password"))
    assert codes(refused[1]) == ["password_too_common"]


def test_messages_say_why() -> None:
    (short,) = POLICY.plain_problems("alice", "kq7-zv")
    assert "at least 8" in short.message
    assert short.field == "password"
    (common,) = POLICY.plain_problems("alice", "password")
    assert "common" in common.message


def test_the_length_message_agrees_with_its_number() -> None:
    (one,) = PasswordPolicy(1).plain_problems("alice", "")
    assert one.message == "Password must be at least 1 character."
    (eight,) = POLICY.plain_problems("alice", "kq7-zv")
    assert eight.message == "Password must be at least 8 characters."


def test_custom_list_and_min_length() -> None:
    policy = PasswordPolicy(4, CommonPasswords(frozenset({"hunter22"})))
    assert codes(policy.plain_problems("bob", "abcd")) == []
    assert codes(policy.plain_problems("bob", "Hunter22")) == ["password_too_common"]
    pre = prehash_v1("bob", "HUNTER22")
    assert codes(policy.prehash_problems("bob", pre)) == ["password_too_common"]


async def test_checks_run_in_the_given_pool_and_busy_is_mapped() -> None:
    from signin.accounts.errors import Busy
    from signin.crypto.passwords import HasherBusy

    calls: list[str] = []

    async def offload(func, *args):  # type: ignore[no-untyped-def]
        calls.append(func.__name__)
        return func(*args)

    policy = PasswordPolicy(8, offload=offload)
    await policy.check("bob", "correct horse battery")
    await policy.check("bob", prehash_v1("bob", "correct horse battery"))
    assert calls == ["plain_problems", "prehash_problems"]

    async def full(func, *args):  # type: ignore[no-untyped-def]
        raise HasherBusy(retry_after=3)

    with pytest.raises(Busy) as caught:
        await PasswordPolicy(8, offload=full).check("bob", "correct horse battery")
    assert caught.value.retry_after == 3


def test_common_sweep_ignores_non_prehash_values() -> None:
    common = CommonPasswords(frozenset({"hunter22"}))
    assert not common.contains_prehash("bob", "hunter22")
    assert common.contains_prehash("BOB", prehash_v1("bob", "hunter22"))
