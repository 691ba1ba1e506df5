"""The common-password list: 19,000+ passwords that attackers try first.

The list is Django's `common-passwords.txt.gz` (BSD licence), itself taken from Royce Williams'
curated breach-frequency list. A password is refused when it equals an entry, the entry
capitalised, or the entry in capitals, on both paths: a plaintext is looked up directly, a
pre-hash is compared with the pre-hashes of those candidates for the given username.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
from functools import cache, cached_property
from importlib import resources

from signin.crypto.prehash import canon, is_prehash, normalize_password


class CommonPasswords:
    def __init__(self, entries: frozenset[str] | None = None) -> None:
        self._entries = entries

    @cached_property
    def candidates(self) -> frozenset[str]:
        if self._entries is None:
            return _packaged_candidates()
        return _variants(self._entries)

    def __len__(self) -> int:
        return len(self._entries if self._entries is not None else _load_packaged())

    def contains_plain(self, password: str) -> bool:
        return normalize_password(password) in self.candidates

    @cached_property
    def _encoded(self) -> tuple[bytes, ...]:
        if self._entries is None:
            return _packaged_encoded()
        return _encode(self.candidates)

    def contains_prehash(self, username: str, prehash: str) -> bool:
        """CPU-bound (one SHA-512 per candidate, ~60k): run it off the event loop.

        Compares raw digests with a pre-fed username prefix: three times faster than building
        every candidate's pre-hash string.
        """
        if not is_prehash(prehash):
            return False
        target = base64.b64decode(prehash[3:-1])
        prefix = hashlib.sha512(canon(username).encode("utf-8"))
        for candidate in self._encoded:
            digest = prefix.copy()
            digest.update(candidate)
            if hmac.compare_digest(digest.digest(), target):
                return True
        return False


def _variants(entries: frozenset[str]) -> frozenset[str]:
    return frozenset(
        variant for entry in entries for variant in (entry, entry.capitalize(), entry.upper())
    )


@cache
def _packaged_candidates() -> frozenset[str]:
    """Built once per process (0.1 s): the packaged list never changes while it runs."""
    return _variants(_load_packaged())


@cache
def _packaged_encoded() -> tuple[bytes, ...]:
    return _encode(_packaged_candidates())


def _encode(candidates: frozenset[str]) -> tuple[bytes, ...]:
    return tuple(candidate.encode("utf-8") for candidate in candidates)


@cache
def _load_packaged() -> frozenset[str]:
    data = resources.files("signin.crypto").joinpath("common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip())
