"""The token endpoint (code and refresh grants), with client authentication.

Access and refresh tokens are opaque 256-bit random strings; only their SHA-256 is stored, so
revocation and introspection are exact. A code is used once: a second use revokes the family
its first use made. A refresh token is used once too (rotation): presenting a used one again
revokes its whole family (OAuth 2.0 Security BCP, refresh token reuse detection).

PKCE is checked with authlib's RFC 7636 implementation, after the verifier's own syntax (RFC 7636
4.1: 43-128 unreserved characters, which authlib does not check); the ID token is signed by joserfc
(accounts/oidc/keys.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge

from signin.accounts.audit import NO_AUDIT, EventType, Recorder
from signin.accounts.clock import Clock
from signin.accounts.oidc.claims import IdTokenFacts, id_token
from signin.accounts.oidc.clients import Client
from signin.accounts.oidc.errors import (
    OAuthError,
    invalid_client,
    invalid_grant,
    invalid_request,
)
from signin.accounts.oidc.keys import ProviderKeys
from signin.accounts.oidc.request import PKCE_RE
from signin.accounts.sessions import token_hash as digest
from signin.accounts.usernames import canon
from signin.stores.oidc import ActiveToken, CodeRecord, GrantRecord, OidcStore, OidcToken
from signin.stores.oidc import Subject as Person

MAX_TOKEN = 512


@dataclass(frozen=True)
class Lifetimes:
    code: int
    access: int
    refresh: int


@dataclass(frozen=True)
class Credentials:
    """What the request said about the client: from `Authorization: Basic` or the form."""

    client_id: str | None
    secret: str | None
    method: str  # "client_secret_basic" | "client_secret_post" | "none"


def _family(
    code: CodeRecord, grant_id: str, now: float, expires_at: float, revoked_at: float | None = None
) -> GrantRecord:
    """The token family a code starts (or, revoked, the tombstone a replay of it leaves)."""
    return GrantRecord(
        grant_id,
        code.client_id,
        code.user_id,
        code.scope,
        code.auth_time,
        code.amr,
        code.session_id,
        now,
        expires_at,
        revoked_at,
    )


def _narrowed(granted: str, asked: list[str]) -> str | None:
    """The scope a refresh asked for, when it is less than `granted` (None: all of it).

    RFC 6749 section 6: a refresh may ask for part of the grant's scope, never more."""
    if not set(asked) <= set(granted.split()):
        raise OAuthError("invalid_scope", "A refresh cannot widen the scope.")
    kept = " ".join(scope for scope in granted.split() if scope in asked)
    return kept if asked and kept != granted else None


class TokenIssuer:
    def __init__(
        self,
        store: OidcStore,
        keys: ProviderKeys,
        clients: dict[str, Client],
        *,
        issuer: str,
        lifetimes: Lifetimes,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.clients = clients
        self.issuer = issuer
        self.lifetimes = lifetimes
        self.clock = clock
        self.audit = audit
        self.on_token = on_token

    def authenticate(self, credentials: Credentials) -> Client:
        """The client the request proves to be; `invalid_client` (401) otherwise."""
        client = self.clients.get(credentials.client_id or "")
        if client is None or client.token_endpoint_auth_method != credentials.method:
            self._refused(credentials.client_id, "invalid_client")
            raise invalid_client()
        if client.confidential and not client.check_secret(credentials.secret or ""):
            self._refused(client.id, "invalid_client")
            raise invalid_client()
        return client

    def _refused(self, client_id: str | None, error: str, user: str | None = None) -> None:
        client = (client_id or "")[:64] or None
        self.audit.record("oidc_request_refused", user, client=client, error=error)

    async def grant(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        kind = form.get("grant_type")
        if not kind:
            raise invalid_request("grant_type is missing.")
        if kind == "authorization_code":
            return await self._code(client, form)
        if kind == "refresh_token":
            if not client.offline_access and "offline_access" not in client.scopes:
                # Supported, but never this client's (RFC 6749 5.2): it gets no refresh tokens.
                raise OAuthError("unauthorized_client", "This client gets no refresh tokens.")
            return await self._refresh(client, form)
        # Every other type, however well known (password, client_credentials, device_code...),
        # is one this server does not support at all: RFC 6749 5.2 unsupported_grant_type.
        raise OAuthError("unsupported_grant_type", "Only authorization_code and refresh_token.")

    async def _code(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        code = form.get("code") or ""
        if not code or len(code) > MAX_TOKEN:
            raise invalid_request("code is missing.")
        now = self.clock()
        grant_id = secrets.token_hex(16)
        redeemed = await self.store.redeem_code(digest(code), now, grant_id)
        if redeemed is None:
            self._refused(client.id, "invalid_grant")
            raise invalid_grant("The code is unknown or expired.")
        found = redeemed.code
        if redeemed.reused:
            # A replayed code: whoever holds it may have the tokens too; end them all.
            tombstone = _family(found, redeemed.grant_id, now, now + self.lifetimes.refresh, now)
            await self.store.revoke_grant(redeemed.grant_id, now, tombstone)
            self._refused(client.id, "code_reused")
            raise invalid_grant("The code was used before; what it gave is revoked.")
        if found.client_id != client.id:
            self._refused(client.id, "invalid_grant")
            raise invalid_grant("The code was not issued to this client.")
        if form.get("redirect_uri") != found.redirect_uri:
            raise invalid_grant("redirect_uri does not match the authorization request.")
        verifier = form.get("code_verifier")
        if found.code_challenge is not None:
            if verifier and not PKCE_RE.fullmatch(verifier):
                self._refused(client.id, "pkce_mismatch")
                raise invalid_grant("code_verifier must be 43-128 of A-Z a-z 0-9 - . _ ~.")
            if not verifier or not compare_s256_code_challenge(verifier, found.code_challenge):
                self._refused(client.id, "pkce_mismatch")
                raise invalid_grant("code_verifier does not match the code_challenge.")
        elif verifier:
            raise invalid_grant("code_verifier given, but the request had no code_challenge.")
        offline = "offline_access" in found.scope.split() or client.offline_access
        lives = self.lifetimes.refresh if offline else self.lifetimes.access
        grant = _family(found, grant_id, now, now + lives)
        issued, tokens = self._tokens(grant_id, now, offline)
        if not await self.store.add_grant(grant, tokens):
            raise invalid_grant("The code was used before; what it gave is revoked.")
        return await self._answer(client, grant, issued, "authorization_code", found.nonce)

    async def _refresh(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token") or ""
        if not token or len(token) > MAX_TOKEN:
            raise invalid_request("refresh_token is missing.")
        now = self.clock()
        hashed = digest(token)
        live = await self.store.active(hashed, "refresh", now)
        if live is not None and live.grant.client_id != client.id:
            self._refused(client.id, "invalid_grant")
            raise invalid_grant("The refresh token was not issued to this client.")
        scope = None
        if live is not None:
            scope = _narrowed(live.scope, (form.get("scope") or "").split())
        issued, tokens = self._tokens("", now, True, scope)
        rotated = await self.store.rotate_refresh(
            hashed,
            now,
            tokens if live is not None else [],
            now + self.lifetimes.refresh,
            grant=live.grant if live is not None else None,
        )
        if rotated.reused_grant is not None:
            await self.store.revoke_grant(rotated.reused_grant, now)
            self._refused(client.id, "refresh_reused")
            raise invalid_grant("The refresh token was used before; its family is revoked.")
        if rotated.grant is not None and live is None:
            # Live by itself, yet `active` did not find it: its account is disabled or gone.
            await self._end(client, rotated.grant.id, now, "account_disabled", None)
        if rotated.grant is None or live is None:
            raise invalid_grant("The refresh token is unknown, expired or revoked.")
        grant = rotated.grant
        return await self._answer(client, grant, issued, "refresh_token", None, live, scope)

    async def _end(
        self, client: Client, grant_id: str, now: float, error: str, username: str | None
    ) -> None:
        """Revoke a family its user may no longer hold, and say so in the audit log."""
        await self.store.revoke_grant(grant_id, now)
        self._refused(client.id, error, canon(username) if username else None)

    def _tokens(
        self, grant_id: str, now: float, offline: bool, access_scope: str | None = None
    ) -> tuple[dict[str, str], list[OidcToken]]:
        """New tokens; the access token with `access_scope` when it is narrower than the
        grant's (the refresh token always keeps the grant's scope, RFC 6749 section 6)."""
        issued = {"access": secrets.token_urlsafe(32)}
        if offline:
            issued["refresh"] = secrets.token_urlsafe(32)
        lives = {"access": self.lifetimes.access, "refresh": self.lifetimes.refresh}
        scopes = {"access": access_scope, "refresh": None}
        tokens = [
            OidcToken(digest(value), kind, grant_id, now, now + lives[kind], scopes[kind])  # type: ignore[arg-type]
            for kind, value in issued.items()
        ]
        return issued, tokens

    async def person(self, user_id: int, live: ActiveToken | None = None) -> Person:
        if live is not None:
            return live.person
        found = await self.store.person(user_id)
        if found is None:
            raise invalid_grant("The account is disabled or gone.")
        return found

    async def _answer(
        self,
        client: Client,
        grant: GrantRecord,
        issued: dict[str, str],
        kind: str,
        nonce: str | None,
        live: ActiveToken | None = None,
        narrowed: str | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        scope = narrowed or grant.scope
        person = await self.person(grant.user_id, live)
        if not client.admits(person.groups):
            # Groups change: checked at /oidc/authorize, and again at every code exchange and
            # refresh, on the account just read for the ID token (no query of its own).
            await self._end(client, grant.id, now, "access_denied", person.username)
            raise invalid_grant("This account may no longer use this application.")
        facts = IdTokenFacts(
            issuer=self.issuer,
            client_id=client.id,
            alg=client.id_token_signed_response_alg,
            auth_time=grant.auth_time,
            amr=grant.amr,
            session_id=grant.session_id,
            nonce=nonce,
            now=now,
            lifetime=self.lifetimes.access,
        )
        body: dict[str, Any] = {
            "access_token": issued["access"],
            "token_type": "Bearer",
            "expires_in": self.lifetimes.access,
            "scope": scope,
        }
        if "openid" in scope.split():
            body["id_token"] = id_token(self.keys, facts, person, scope, issued["access"])
        if "refresh" in issued:
            body["refresh_token"] = issued["refresh"]
        event: EventType = (
            "oidc_token_issued" if kind == "authorization_code" else "oidc_token_refreshed"
        )
        self.audit.record(event, canon(person.username), client=client.id, grant=kind)
        if self.on_token is not None:
            self.on_token(kind)
        return body
