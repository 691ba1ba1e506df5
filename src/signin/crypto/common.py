"""The common-password list: 19,000+ passwords that attackers try first.

The list is Django's `common-passwords.txt.gz` (BSD licence), itself taken from Royce Williams'
curated breach-frequency list. A password is refused when it equals an entry, the entry
capitalised, or the entry in capitals, on both paths: a plaintext is looked up directly, a
pre-hash is compared with the pre-hashes of those candidates for the given username.
"""

from __future__ import annotations

import gzip
from functools import cached_property
from importlib import resources

from signin.crypto.prehash import canon, normalize_password, prehash_from_canon


class CommonPasswords:
    def __init__(self, entries: frozenset[str] | None = None) -> None:
        self._entries = entries

    @cached_property
    def candidates(self) -> frozenset[str]:
        entries = self._entries if self._entries is not None else _load_packaged()
        return frozenset(
            variant for entry in entries for variant in (entry, entry.capitalize(), entry.upper())
        )

    def __len__(self) -> int:
        return len(self._entries if self._entries is not None else _load_packaged())

    def contains_plain(self, password: str) -> bool:
        return normalize_password(password) in self.candidates

    def contains_prehash(self, username: str, prehash: str) -> bool:
        """CPU-bound (one SHA-512 per candidate): run it off the event loop."""
        user = canon(username)
        return any(prehash_from_canon(user, candidate) == prehash for candidate in self.candidates)


def _load_packaged() -> frozenset[str]:
    data = resources.files("signin.crypto").joinpath("common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip())
