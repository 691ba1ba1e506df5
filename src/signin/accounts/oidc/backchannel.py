"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a signin session ends, each
app that got tokens from it and registered a `backchannel_logout_uri` receives a signed
`logout_token` (`sub`, `sid`, the logout event, no `nonce`) by POST, server to server.

Sending never holds up the sign-out: each POST runs in the background with a short timeout, and a
failure is logged with the app's id and the reason (never the token). The addresses are the
operator's own (the clients file), never taken from a request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import urllib.error
import urllib.request
from urllib.parse import urlencode

from signin.accounts.clock import Clock
from signin.accounts.oidc.clients import Client
from signin.accounts.oidc.keys import ProviderKeys
from signin.stores.oidc import GrantRecord

log = logging.getLogger("signin.oidc")
EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_SECONDS = 120
TIMEOUT_SECONDS = 5.0


class BackChannel:
    def __init__(
        self, keys: ProviderKeys, clients: dict[str, Client], *, issuer: str, clock: Clock
    ) -> None:
        self.keys = keys
        self.clients = clients
        self.issuer = issuer
        self.clock = clock
        self._sending: set[asyncio.Task[None]] = set()

    def notify(self, sub: str, grants: list[GrantRecord]) -> None:
        """Tell every app among `grants` (one message per app and session) that it ended."""
        sent: set[tuple[str, str | None]] = set()
        for grant in grants:
            client = self.clients.get(grant.client_id)
            key = (grant.client_id, grant.session_id)
            if client is None or client.backchannel_logout_uri is None or key in sent:
                continue
            sent.add(key)
            token = self.logout_token(client, sub, grant.session_id)
            task = asyncio.get_running_loop().create_task(self._post(client, token))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    def logout_token(self, client: Client, sub: str, session_id: str | None) -> str:
        now = int(self.clock())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": client.id,
            "iat": now,
            "exp": now + TOKEN_SECONDS,
            "jti": secrets.token_urlsafe(16),
            "sub": sub,
            "events": {EVENT: {}},
        }
        if session_id is not None:
            claims["sid"] = session_id
        return self.keys.sign(claims, client.id_token_signed_response_alg, typ="logout+jwt")

    async def _post(self, client: Client, token: str) -> None:
        uri = client.backchannel_logout_uri
        assert uri is not None
        body = urlencode({"logout_token": token}).encode("ascii")
        request = urllib.request.Request(  # noqa: S310 (an http(s) URL from the clients file)
            uri,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            await asyncio.to_thread(_send, request)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            log.warning("back-channel logout to client %s failed: %s", client.id, reason)

    async def drain(self) -> None:
        """Wait for the messages on their way (shutdown, tests)."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=TIMEOUT_SECONDS + 1)


def _send(request: urllib.request.Request) -> None:
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
        answer.read(1024)
