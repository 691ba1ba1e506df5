"""Every HMAC-signed value: redirect targets, CSRF tokens and device proofs.

Built on itsdangerous, which verifies against every key of a rotation list (oldest first, newest
last) and compares signatures in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from itsdangerous import BadSignature, Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.exc import BadData

from signin.crypto.keys import KeyRing, Purpose


def _timed(keys: KeyRing, purpose: Purpose, clock: Callable[[], float]) -> URLSafeTimedSerializer:
    """A time-stamped serializer under the key of `purpose`, stamps and ages measured on `clock`
    (the services' clock, frozen in tests)."""

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return URLSafeTimedSerializer(
        keys.derive_all(purpose),
        salt=purpose,
        signer=ClockedSigner,
        signer_kwargs={"digest_method": hashlib.sha256},
    )


class RedirectSigner:
    """`sig = base64url(HMAC-SHA256(redirect key, next))`, unpadded (SPEC section 6)."""

    def __init__(self, keys: KeyRing) -> None:
        self._signer = Signer(
            keys.derive_all("redirect"), key_derivation="none", digest_method=hashlib.sha256
        )

    def sign(self, target: str) -> str:
        return self._signer.get_signature(target.encode("utf-8")).decode("ascii")

    def verify(self, target: str, signature: str) -> bool:
        try:
            return self._signer.verify_signature(target.encode("utf-8"), signature.encode("ascii"))
        except (UnicodeEncodeError, BadSignature):
            return False


class CsrfSigner:
    """Form tokens bound to a per-browser random value kept in a cookie (signed double submit)."""

    def __init__(self, keys: KeyRing, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(
            keys.derive_all("csrf"), salt="csrf", signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._max_age = max_age

    def token_for(self, browser_secret: str) -> str:
        return str(self._serializer.dumps(browser_secret))

    def check(self, token: str, browser_secret: str) -> bool:
        try:
            value = self._serializer.loads(token, max_age=self._max_age)
        except BadSignature:
            return False
        return isinstance(value, str) and hmac.compare_digest(value, browser_secret)


class DeviceSigner:
    """Device proofs (SPEC section 5a): `[canon(username), nonce]`, signed and time-stamped.

    The key is derived for this purpose alone, so no other signed value (a CSRF token, a
    redirect signature) can pass as a proof, and a proof is refused once `max_age` has passed.
    """

    def __init__(self, keys: KeyRing, max_age: int, clock: Callable[[], float] = time.time) -> None:
        self._serializer = _timed(keys, "device", clock)
        self._max_age = max_age

    def sign(self, username_canon: str, nonce: str) -> str:
        return str(self._serializer.dumps([username_canon, nonce]))

    def open(self, token: str) -> tuple[str, str] | None:
        """`(canon, nonce)` of a valid, unexpired proof; None for anything else."""
        try:
            value = self._serializer.loads(token, max_age=self._max_age)
        except (BadData, UnicodeError, ValueError):
            return None
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(part, str) and part for part in value)
        ):
            return value[0], value[1]
        return None


class StateSigner:
    """A small JSON object signed with its time under the key of `purpose`; valid `max_age` s.

    For short-lived state kept by the client, e.g. the pending second sign-in step (SPEC 13).
    """

    def __init__(
        self,
        keys: KeyRing,
        purpose: Purpose,
        max_age: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._serializer = _timed(keys, purpose, clock)
        self.max_age = max_age

    def dumps(self, value: dict[str, Any]) -> str:
        return str(self._serializer.dumps(value))

    def loads(self, token: str) -> dict[str, Any] | None:
        """The object, or None when the signature is wrong or older than `max_age`."""
        if not token or len(token) > 2048:
            return None
        try:
            value = self._serializer.loads(token, max_age=self.max_age)
        except (BadSignature, UnicodeError, ValueError):
            return None
        return value if isinstance(value, dict) else None
