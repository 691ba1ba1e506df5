"""Pre-hash v1 (SPEC section 2): known answers computed here from explicit bytes, and canon."""

from __future__ import annotations

import base64
import hashlib

import pytest

from signin.crypto.prehash import canon, is_prehash, prehash_v1


def expected(data: bytes) -> str:
    """The wire format, computed independently of signin from the exact bytes hashed."""
    return "$1$" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii") + "$"


def test_ascii_vector_pinned() -> None:
    """A literal value, so a change to the format cannot slip through both sides of a test."""
    value = prehash_v1("alice", "correct horse battery")
    assert value == (
        "$1$yWHOl4/SKQO1qXiEZ5Px+kyZ/41wmEHjDr30fRBHgGvazOCX7GPikFtgYg96gBNF98xtS/CM7jiaD7isC+KvOg==$"
    )
    assert value == expected(b"alice" + b"correct horse battery")
    assert len(value) == 92
    assert len(value[3:-1]) == 88


@pytest.mark.parametrize(
    ("username", "password", "data"),
    [
        ("alice", "pässwörd", b"alice" + "pässwörd".encode()),
        # The username is canon'd (NFKC + casefold); the password only NFKC'd, never folded.
        ("ALICE", "PassWord", b"alice" + b"PassWord"),
        ("Straße", "x", b"strasse" + b"x"),
        ("STRASSE", "x", b"strasse" + b"x"),
        ("Zoë", "zoë", "zoë".encode() + "zoë".encode()),
        # Decomposed e + U+0308 in the username composes to U+00EB under NFKC.
        ("Zoe\u0308", "pw", "zo\u00eb".encode() + b"pw"),
        # Password NFKC: the ligature U+FB01 becomes "fi", full-width letters become ASCII.
        ("bob", "\ufb01sh", b"bob" + b"fish"),
        ("bob", "ｐａｓｓ", b"bob" + b"pass"),
        ("ｂｏｂ", "pw", b"bob" + b"pw"),
        # Greek final sigma folds to sigma; Cyrillic lowercases; non-ASCII kept as UTF-8.
        ("ΣΟΦΟΣ", "κωδικός", "σοφοσ".encode() + "κωδικός".encode()),
        ("Мария", "пароль", "мария".encode() + "пароль".encode()),
        ("bob", "🔑 key", b"bob" + "🔑 key".encode()),
    ],
)
def test_vectors(username: str, password: str, data: bytes) -> None:
    assert prehash_v1(username, password) == expected(data)


def test_composed_and_decomposed_passwords_agree() -> None:
    assert prehash_v1("a1b", "caf\u00e9") == prehash_v1("a1b", "cafe\u0301")


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("\ufb01le", "file"),
        ("ＡＬＩＣＥ", "alice"),
        ("Zoë", "zoë"),
        ("Zoe\u0308", "zoë"),
        ("ſ", "s"),
        ("ΌΣΟΣ", "όσοσ"),
        ("Ꭰ", "Ꭰ"),  # Cherokee: casefold maps to the upper letter, unlike lower()
    ],
)
def test_canon(typed: str, canonical: str) -> None:
    assert canon(typed) == canonical


def test_straße_and_strasse_are_one_identity() -> None:
    assert canon("Straße") == canon("STRASSE") == canon("strasse")
    assert prehash_v1("Straße", "pw") == prehash_v1("STRASSE", "pw")


VALID = "$1$" + "A" * 86 + "==$"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (VALID, True),
        (prehash_v1("alice", "x"), True),
        ("$1$" + "+/9a" * 21 + "zZ" + "==$", True),
        ("$1$" + "A" * 85 + "==$", False),  # one short
        ("$1$" + "A" * 87 + "==$", False),  # one long
        ("$1$" + "A" * 86 + "=$", False),
        ("$1$" + "A" * 86 + "==", False),  # no closing $
        ("$2$" + "A" * 86 + "==$", False),
        ("$1$" + "A" * 85 + "-==$", False),  # url-safe alphabet is not the wire format
        ("$1$" + "A" * 85 + "_==$", False),
        (VALID + "\n", False),  # a trailing newline must not sneak past `$`
        ("\n" + VALID, False),
        (" " + VALID, False),
        (VALID + " ", False),
        ("$1$" + "A" * 84 + "é" + "A" + "==$", False),
        ("", False),
        ("password", False),
    ],
)
def test_is_prehash(value: str, ok: bool) -> None:
    assert is_prehash(value) is ok
