"""What a token is worth after it is issued: UserInfo, revocation (RFC 7009), introspection
(RFC 7662), and the account page's list of apps with access.

A token answers only for the client it was issued to: introspection of another client's token
says `active: false`, and revoking it does nothing (the answer is the same 200 either way, so
neither endpoint tells a client whether someone else's token exists). A token whose user the
client no longer admits (its `groups`) is not live for UserInfo and introspection either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.oidc.claims import claims_for
from signin.accounts.oidc.clients import Client
from signin.accounts.oidc.tokens import MAX_TOKEN
from signin.accounts.sessions import token_hash as digest
from signin.accounts.usernames import canon
from signin.stores.oidc import ActiveToken, OidcStore


@dataclass(frozen=True)
class AppAccess:
    """One app on the account page: its consent and its live token families."""

    client_id: str
    name: str
    scope: str
    since: float
    grants: int


class Resources:
    def __init__(
        self,
        store: OidcStore,
        clients: dict[str, Client],
        *,
        issuer: str,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.store = store
        self.clients = clients
        self.issuer = issuer
        self.clock = clock
        self.audit = audit

    async def _live(self, token: str, kind: str) -> ActiveToken | None:
        if not token or len(token) > MAX_TOKEN:
            return None
        if kind == "refresh":
            return await self.store.active(digest(token), "refresh", self.clock())
        return await self.store.active(digest(token), "access", self.clock())

    def _admitted(self, live: ActiveToken) -> bool:
        """The token's client still admits its user (groups change after tokens are issued)."""
        client = self.clients.get(live.grant.client_id)
        return client is not None and client.admits(live.person.groups)

    async def userinfo(self, token: str) -> dict[str, Any] | None:
        """The claims the access token's scope allows; None for a token that is not live."""
        live = await self._live(token, "access")
        if live is None or not self._admitted(live):
            return None
        return claims_for(live.person, live.scope)

    async def _find(self, token: str, hint: str | None) -> ActiveToken | None:
        order = ["refresh", "access"] if hint == "refresh_token" else ["access", "refresh"]
        for kind in order:
            live = await self._live(token, kind)
            if live is not None:
                return live
        return None

    async def revoke(self, client: Client, token: str, hint: str | None) -> None:
        """RFC 7009: an access token ends alone; a refresh token ends its whole family."""
        live = await self._find(token, hint)
        if live is None or live.grant.client_id != client.id:
            return
        if live.token.kind == "refresh":
            await self.store.revoke_grant(live.grant.id, self.clock())
        else:
            await self.store.revoke_token(live.token.token_hash)
        self.audit.record(
            "oidc_token_revoked",
            canon(live.person.username),
            client=client.id,
            kind=live.token.kind,
        )

    async def introspect(self, client: Client, token: str, hint: str | None) -> dict[str, Any]:
        live = await self._find(token, hint)
        if live is None or live.grant.client_id != client.id or not self._admitted(live):
            return {"active": False}
        return {
            "active": True,
            "scope": live.scope,
            "client_id": live.grant.client_id,
            "username": live.person.username,
            "token_type": "Bearer" if live.token.kind == "access" else "refresh_token",
            "exp": int(live.token.expires_at),
            "iat": int(live.token.created_at),
            "sub": live.person.sub,
            "aud": live.grant.client_id,
            "iss": self.issuer,
        }

    async def apps(self, user_id: int) -> list[AppAccess]:
        """Consents and live token families by client, for the account page."""
        consents = {item.client_id: item for item in await self.store.consents_for_user(user_id)}
        families: dict[str, int] = {}
        first: dict[str, tuple[str, float]] = {}
        for grant in await self.store.grants_for_user(user_id, self.clock()):
            families[grant.client_id] = families.get(grant.client_id, 0) + 1
            first.setdefault(grant.client_id, (grant.scope, grant.created_at))
        apps = []
        for client_id in sorted(set(consents) | set(families)):
            client = self.clients.get(client_id)
            consent = consents.get(client_id)
            scope, since = (consent.scope, consent.created_at) if consent else first[client_id]
            name = client.name if client is not None else client_id
            apps.append(AppAccess(client_id, name, scope, since, families.get(client_id, 0)))
        return apps
