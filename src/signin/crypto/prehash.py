"""The v1 password pre-hash that browsers send instead of the typed password (SPEC section 2).

    prehash_v1(username, password) =
        "$1$" + base64(SHA-512(utf8(canon(username)) + utf8(NFKC(password)))) + "$"

`static/js/password.js` computes the same string; tests pin the two together.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata

PREHASH_RE = re.compile(r"^\$1\$[A-Za-z0-9+/]{86}==\$\Z")


def canon(username: str) -> str:
    """The identity of a username: NFKC, then full Unicode case folding."""
    return unicodedata.normalize("NFKC", username).casefold()


def normalize_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def prehash_v1(username: str, password: str) -> str:
    digest = hashlib.sha512(
        canon(username).encode("utf-8") + normalize_password(password).encode("utf-8")
    ).digest()
    return "$1$" + base64.b64encode(digest).decode("ascii") + "$"


def is_prehash(value: str) -> bool:
    """True when a submitted `password` field is a v1 pre-hash rather than a plaintext."""
    return PREHASH_RE.match(value) is not None


def to_prehash(username: str, password: str) -> str:
    """What argon2id hashes: a submitted pre-hash as it is, a plaintext pre-hashed here.

    The basic (no-JavaScript) forms, the API and the CLI may send the typed password.
    """
    return password if is_prehash(password) else prehash_v1(username, password)
