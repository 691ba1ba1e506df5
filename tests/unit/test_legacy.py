"""The demo's pre-hash format, and how imported (marked) accounts sign in and get upgraded."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from signin.accounts.errors import InvalidCredentials
from signin.accounts.legacy import (
    MARK,
    demo_bytes,
    demo_prehash,
    is_marked,
    mark,
    page_ready,
    skip_reason,
)
from signin.crypto.prehash import prehash_v1
from signin.services import Services
from signin.stores.base import NewUser
from tests.demo_db import demo_js_prehash
from tests.support import need

# The demo's browser code, verbatim, with Node's Buffer standing in for Uint8Array.toBase64().
DEMO_JS = """
const [username, password] = JSON.parse(process.argv[1]);
const data = new Uint8Array((username + password).split('').map(el => el.charCodeAt(0)));
crypto.subtle.digest('SHA-512', data).then(function(digest) {
  console.log('$1$' + Buffer.from(digest).toString('base64') + '$');
});
"""
SAMPLES = [
    ("alice", "correct horse"),
    ("Alice", "correct horse"),
    ("jürgen", "pässwört"),
    ("Ωmega", "€uro 😀 ß"),
    ("zoe", "ﬁne ligature"),
]


def test_demo_bytes_keep_the_low_byte_of_each_utf16_code_unit() -> None:
    assert demo_bytes("abc") == b"abc"
    assert demo_bytes("é") == b"\xe9"  # U+00E9
    assert demo_bytes("€") == b"\xac"  # U+20AC
    assert demo_bytes("😀") == b"\x3d\x00"  # surrogates D83D DE00


@pytest.mark.parametrize(("username", "password"), SAMPLES)
def test_demo_prehash_matches_an_independent_implementation(username: str, password: str) -> None:
    assert demo_prehash(username, password) == demo_js_prehash(username, password)


def test_demo_prehash_matches_the_demo_javascript_run_by_node() -> None:
    node = shutil.which("node")
    need(node is not None, "node (to run the demo's JavaScript)")
    assert node is not None
    for username, password in SAMPLES:
        result = subprocess.run(
            [node, "-e", DEMO_JS, json.dumps([username, password])],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert result.stdout.strip() == demo_prehash(username, password), (username, password)


def test_page_prehash_equals_demo_only_for_canonical_ascii() -> None:
    assert prehash_v1("alice", "correct horse") == demo_prehash("alice", "correct horse")
    assert prehash_v1("Alice", "correct horse") != demo_prehash("Alice", "correct horse")
    assert prehash_v1("alice", "pässwört") != demo_prehash("alice", "pässwört")
    assert page_ready("alice.b-c_1")
    assert not page_ready("Alice")
    assert not page_ready("jürgen")


def test_skip_reasons() -> None:
    good = demo_prehash("alice", "pw")
    assert skip_reason("alice", good) is None
    assert skip_reason("jürgen", good) is None
    assert skip_reason("al", good) == "invalid_username"
    assert skip_reason("a b c", good) == "invalid_username"
    assert skip_reason(None, good) == "invalid_username"
    assert skip_reason(b"alice", good) == "invalid_username"
    assert skip_reason("alice", None) == "malformed_hash"
    assert skip_reason("alice", "hunter2") == "malformed_hash"
    assert skip_reason("alice", good[:-1]) == "malformed_hash"
    assert skip_reason("alice", good + "\n") == "malformed_hash"


def test_marked_hashes_are_no_phc_strings() -> None:
    assert is_marked(mark("$argon2id$v=19$..."))
    assert not is_marked("$argon2id$v=19$...")
    assert not mark("x").startswith("$")


async def imported(services: Services, username: str, password: str) -> int:
    """An account as the importer writes it, from the demo's pre-hash."""
    phc = await services.hasher.hash(demo_prehash(username, password))
    user = await services.users.create(
        NewUser(username, username.casefold(), None, None, mark(phc), 1.0)
    )
    return user.id


async def stored_hash(services: Services, user_id: int) -> str:
    user = await services.users.by_id(user_id)
    assert user is not None
    return user.password_hash


async def test_canonical_ascii_user_signs_in_with_page_prehash_and_is_unmarked(
    services: Services,
) -> None:
    user_id = await imported(services, "alice", "correct horse")
    user = await services.authenticator.sign_in(
        "ALICE", prehash_v1("alice", "correct horse"), "192.0.2.1"
    )
    assert user.id == user_id
    stored = await stored_hash(services, user_id)
    assert not is_marked(stored)
    ok, _ = await services.hasher.verify(stored, prehash_v1("alice", "correct horse"))
    assert ok


async def test_capitalised_user_needs_plaintext_once_then_the_page_works(
    services: Services,
) -> None:
    user_id = await imported(services, "Alice", "correct horse")
    page = prehash_v1("Alice", "correct horse")
    with pytest.raises(InvalidCredentials):
        await services.authenticator.sign_in("Alice", page, None)
    with pytest.raises(InvalidCredentials):
        await services.authenticator.sign_in("Alice", "wrong horse", None)
    assert is_marked(await stored_hash(services, user_id))
    user = await services.authenticator.sign_in("alice", "correct horse", None)
    assert user.id == user_id
    assert not is_marked(await stored_hash(services, user_id))
    assert (await services.authenticator.sign_in("Alice", page, None)).id == user_id


async def test_non_ascii_password_signs_in_by_plaintext(services: Services) -> None:
    user_id = await imported(services, "jurgen", "pässwört 99")
    with pytest.raises(InvalidCredentials):
        await services.authenticator.sign_in("jurgen", prehash_v1("jurgen", "pässwört 99"), None)
    assert (await services.authenticator.sign_in("jurgen", "pässwört 99", None)).id == user_id
    again = await services.authenticator.sign_in(
        "jurgen", prehash_v1("jurgen", "pässwört 99"), None
    )
    assert again.id == user_id


async def test_account_page_password_check_understands_marked_hashes(
    services: Services,
) -> None:
    user_id = await imported(services, "Bob.B", "tiny bobby tables")
    """The account page checks the current password with `sign_in` (accounts/account.py)."""
    user = await services.users.by_id(user_id)
    assert user is not None
    with pytest.raises(InvalidCredentials):
        await services.authenticator.sign_in(user.username, "wrong", None)
    assert (await services.authenticator.sign_in(user.username, "tiny bobby tables", None)).id == (
        user_id
    )
    assert MARK not in await stored_hash(services, user_id)
