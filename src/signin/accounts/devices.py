"""Device proofs and the trusted/untrusted decision (SPEC section 5a; docs/fail-lock.md).

After every successful sign-in (and a completed reset, and an unlock link) the browser gets a
*device proof*: `[canon(username), nonce]`, signed with its own HKDF key (crypto/signing.py). A
sign-in attempt that presents a valid proof for the username it names is **trusted**: the
untrusted lock on that username and the lock on its IP do not refuse it; instead its failures
count on the proof's own key, `DEVICE:<canon>:<nonce>`, in the lock store. Everything else (no
proof, a forged, expired or foreign one) is **untrusted** and meets section 5 unchanged.

So a stranger who floods a username locks out strangers only, while the owner's browser, which
signed in before, keeps getting in. A stolen proof buys a thief `LOCK_MAX_FAILURES` guesses per
`LOCK_SECONDS` on that one account, no more than the untrusted lock allows anyone.

One browser keeps proofs for up to `MAX_PER_BROWSER` accounts in one cookie, newest first,
separated by `~` (a character the URL-safe proofs never hold). Deciding costs a few HMACs and no
store access: the lock store is then written once, as for any attempt (accounts/lockout.py).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from signin.accounts.usernames import canon
from signin.crypto.signing import DeviceSigner

DEVICE_STORED = "DEVICE:"  # in the lock store: upper case, so no typed username can hit it
DEVICE_SHOWN = "device:"  # on the command line and in `signin locks list`
MAX_PER_BROWSER = 5
SEPARATOR = "~"
MAX_PROOF_LENGTH = 512  # a real proof is about 100 characters; longer ones are not opened
NONCE_BYTES = 12  # 96 random bits, 16 characters: the device's id in its lock key


def device_key(username_canon: str, nonce: str) -> str:
    """The lock-store key of one proof's own failure count."""
    return f"{DEVICE_STORED}{username_canon}:{nonce}"


def parse_device_key(text: str) -> str:
    """The stored key for `device:USERNAME:ID` as typed (canon applied to USERNAME)."""
    body = text.strip()[len(DEVICE_SHOWN) :]
    username, _, nonce = body.rpartition(":")
    username = canon(username.strip())
    if not username or not nonce.strip() or ":" in username:
        raise ValueError("a device key is device:USERNAME:ID")
    return device_key(username, nonce.strip())


def shown_device_key(key: str) -> str:
    return DEVICE_SHOWN + key[len(DEVICE_STORED) :]


@dataclass(frozen=True)
class Granted:
    """A new proof (the API's `device_token`) and the browser's cookie value holding it."""

    token: str
    cookie: str


class Devices:
    def __init__(self, signer: DeviceSigner, *, max_per_browser: int = MAX_PER_BROWSER) -> None:
        self.signer = signer
        self.max_per_browser = max_per_browser

    def grant(self, username_canon: str, cookie: str | None = None) -> Granted:
        """The one place a device proof is made: every successful sign-in path calls this
        (through `web/auth.give_device_proof`), with the browser's current cookie value.

        The browser's valid proofs for other accounts are kept (newest first, at most
        `max_per_browser` in all); an older proof for this account is replaced.
        """
        token = self.signer.sign(username_canon, secrets.token_urlsafe(NONCE_BYTES))
        kept: list[str] = []
        for proof in split(cookie):
            opened = self._open(proof)
            if opened is not None and opened[0] != username_canon and proof not in kept:
                kept.append(proof)
        return Granted(token, SEPARATOR.join([token, *kept][: self.max_per_browser]))

    def trusted_key(self, username_canon: str, presented: Iterable[str | None]) -> str | None:
        """The lock key of the first valid proof for this username, None when untrusted."""
        if not username_canon:
            return None
        for proof in presented:
            opened = self._open(proof) if proof else None
            if opened is not None and hmac.compare_digest(
                opened[0].encode("utf-8"), username_canon.encode("utf-8")
            ):
                return device_key(opened[0], opened[1])
        return None

    def _open(self, proof: str) -> tuple[str, str] | None:
        if len(proof) > MAX_PROOF_LENGTH:
            return None
        opened = self.signer.open(proof)
        if opened is None or ":" in opened[0] or ":" in opened[1]:
            return None
        return opened


def split(cookie: str | None) -> list[str]:
    """The proofs in a cookie value (or an API `device_token`), at most a browser's worth."""
    if not cookie:
        return []
    return [part for part in cookie.split(SEPARATOR) if part][: MAX_PER_BROWSER * 2]
