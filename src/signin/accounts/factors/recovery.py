"""Recovery codes: 10 per enrolment, 50 random bits each (`xxxxx-xxxxx`), stored as keyed hashes.

A code is hashed with HMAC-SHA256 under a key derived for the purpose `recovery`, so a copy of
the database alone does not let anyone test guesses offline (a plain SHA-256 of 50 bits would).
Checking a code computes its hash under every key of the ring (rotation: fallback keys still
match) and marks one unused row used in a single conditional UPDATE (`FactorStore.use_recovery`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from signin.crypto.keys import KeyRing

COUNT = 10
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols, 5 bits each, no l/1/o/0 confusions
SYMBOLS = 10  # 50 bits
MAX_INPUT = 64


def new_codes(count: int = COUNT) -> list[str]:
    codes = []
    for _ in range(count):
        text = "".join(secrets.choice(ALPHABET) for _ in range(SYMBOLS))
        codes.append(f"{text[:5]}-{text[5:]}")
    return codes


def normalize(code: str) -> str | None:
    """The code's symbols, lower case, without spaces and dashes; None when it cannot be one."""
    text = "".join(ch for ch in code[:MAX_INPUT].lower() if not ch.isspace() and ch != "-")
    if len(text) != SYMBOLS or any(ch not in ALPHABET for ch in text):
        return None
    return text


class RecoveryHasher:
    def __init__(self, keys: KeyRing) -> None:
        derived = keys.derive_all("recovery")
        self._current = derived[-1]
        self._all = list(reversed(derived))

    def hash(self, code: str) -> bytes:
        text = normalize(code)
        if text is None:
            raise ValueError("not a recovery code")
        return hmac.new(self._current, text.encode("ascii"), hashlib.sha256).digest()

    def candidates(self, code: str) -> list[bytes]:
        """Its hash under every key of the ring; empty when the input is no recovery code."""
        text = normalize(code)
        if text is None:
            return []
        return [hmac.new(key, text.encode("ascii"), hashlib.sha256).digest() for key in self._all]
