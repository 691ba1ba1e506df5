"""Passkey challenges: random, kept by the browser, answered at most once, for 5 minutes.

A ceremony's challenge, its kind, the account it is for, the WebAuthn user handle (registration)
and a random id travel in one signed value (`StateSigner`, purpose `passkey`) that web/ keeps in
a short-lived HttpOnly cookie: only the browser that asked can answer. Asking writes nothing.
Answering records the id in the challenge store, whose primary key lets only the first answer
through, also when two race; the signed time is checked against our clock.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Literal

from signin.accounts.clock import Clock
from signin.accounts.errors import CeremonyExpired
from signin.crypto.signing import StateSigner
from signin.stores.base import ChallengeStore

Kind = Literal["register", "sign_in", "second_step"]
CHALLENGE_SECONDS = 300
PURGE_EVERY = 600.0


@dataclass(frozen=True)
class Opened:
    """A challenge just used up, with the user handle it was made with (registration)."""

    challenge: bytes
    handle: bytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Challenges:
    def __init__(self, store: ChallengeStore, signer: StateSigner, *, clock: Clock) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock
        self._next_purge = 0.0

    def new(self, kind: Kind, user_id: int | None, handle: bytes = b"") -> tuple[bytes, str]:
        """A fresh 32-byte challenge and the signed state that carries it."""
        challenge = secrets.token_bytes(32)
        state = {
            "i": secrets.token_urlsafe(16),
            "k": kind,
            "c": _b64(challenge),
            "u": user_id,
            "h": _b64(handle),
            "t": self.clock(),
        }
        return challenge, self.signer.dumps(state)

    async def take(self, state: str, kind: Kind, user_id: int | None) -> Opened:
        """The challenge in `state`, used up; `CeremonyExpired` when it cannot be used: forged,
        of another kind or account, older than `CHALLENGE_SECONDS`, or answered before."""
        now = self.clock()
        value = self.signer.loads(state)
        if (
            value is None
            or value.get("k") != kind
            or value.get("u") != user_id
            or not isinstance(value.get("t"), int | float)
            or not 0 <= now - value["t"] < CHALLENGE_SECONDS
        ):
            raise CeremonyExpired()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            await self.store.purge(now)
        if not await self.store.consume(str(value["i"]), value["t"] + CHALLENGE_SECONDS):
            raise CeremonyExpired()
        return Opened(_unb64(str(value["c"])), _unb64(str(value["h"])))
