"""Secrets kept at rest, encrypted: AES-256-GCM under a key derived per purpose (HKDF).

A sealed value is `version byte || 96-bit random nonce || ciphertext and tag`. The associated
data binds it to its owner (e.g. a user id), so a sealed TOTP secret copied to another account's
row does not open there. Opening tries the current key first, then each fallback key
(`SIGNIN_SECRET_KEY_FALLBACKS`), so rotating the master secret keeps old secrets readable;
`needs_reseal` says when a value should be sealed again under the current key.

The ciphers (and with them the `cryptography` package) are made on first use: the services are
built for every CLI command, and most never open a sealed value.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from signin.crypto.keys import KeyRing, Purpose

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12


class SealBroken(Exception):
    """No key of the ring opens this value (wrong owner, tampered, or its key was dropped)."""


@dataclass(frozen=True)
class Opened:
    plaintext: bytes
    needs_reseal: bool  # opened with a fallback key


class SecretBox:
    def __init__(self, keys: KeyRing, purpose: Purpose) -> None:
        # Newest first: the common case opens on the first try.
        self._keys = list(reversed(keys.derive_all(purpose)))

    @cached_property
    def _ciphers(self) -> list[AESGCM]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return [AESGCM(key) for key in self._keys]

    def seal(self, plaintext: bytes, owner: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return VERSION + nonce + self._ciphers[0].encrypt(nonce, plaintext, VERSION + owner)

    def open(self, sealed: bytes, owner: bytes) -> Opened:
        if len(sealed) <= 1 + NONCE_BYTES or sealed[:1] != VERSION:
            raise SealBroken()
        from cryptography.exceptions import InvalidTag

        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        for index, cipher in enumerate(self._ciphers):
            try:
                return Opened(cipher.decrypt(nonce, body, VERSION + owner), index > 0)
            except InvalidTag:
                continue
        raise SealBroken()
