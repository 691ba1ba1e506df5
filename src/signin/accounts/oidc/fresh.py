"""The mark of a sign-in made for one authorization request (`prompt=login`, `max_age`, an
`id_token_hint` naming someone else, or no session at all).

When the provider sends the browser to sign in for a request, the request it leads back to
carries `auth_after`: a value this service signed (key purpose `oidc-sign-in`), naming the time
the sign-in must be newer than and a digest of the request's other parameters. Coming back, a
session newer than that time satisfies the request's demand for a fresh sign-in, so one sign-in
suffices. The value comes back through the browser's query string, so only a mark that verifies,
was made for this very request and is at most `MARK_SECONDS` old counts; anything else is as if
absent, and `prompt=login` then asks for a sign-in again.
"""

from __future__ import annotations

import base64
import hashlib
import json

from signin.accounts.oidc.request import AUTH_AFTER, AuthRequest
from signin.crypto.signing import StateSigner

MARK_SECONDS = 300  # a sign-in that took longer is asked for again


def request_digest(request: AuthRequest) -> str:
    """A digest of the request's parameters but the mark: a mark fits only its own request."""
    params = sorted((key, value) for key, value in request.params.items() if key != AUTH_AFTER)
    raw = hashlib.sha256(json.dumps(params).encode("utf-8")).digest()
    return base64.urlsafe_b64encode(raw[:18]).decode("ascii")


class SignInMarks:
    def __init__(self, signer: StateSigner) -> None:
        self.signer = signer

    def make(self, request: AuthRequest, now: float) -> str:
        """The mark for a sign-in, for this request, newer than `now`."""
        return self.signer.dumps({"t": now, "r": request_digest(request)})

    def after(self, request: AuthRequest) -> float | None:
        """The time the request's own valid mark names, or None (no mark, or one that does not
        count: not ours, tampered with, made for another request, or too old)."""
        if request.auth_after is None:
            return None
        mark = self.signer.loads(request.auth_after)
        if mark is None or mark.get("r") != request_digest(request):
            return None
        after = mark.get("t")
        return float(after) if isinstance(after, int | float) else None
