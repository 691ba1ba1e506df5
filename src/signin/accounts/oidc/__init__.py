"""signin as an OpenID Connect provider: the policy, the tokens and the discovery document.

Libraries. joserfc does all JOSE work: key generation, JWKS, ID token signing, `id_token_hint`
verification (no JWT code of our own). authlib supplies the RFC 7636 PKCE check and validates
the discovery document (`OpenIDProviderMetadata.validate`) at start; the relying-party tests use
authlib's client. authlib's server classes (`AuthorizationServer` and its grants) were not used:
their storage hooks are synchronous, while every store here is async (SQLAlchemy async,
redis.asyncio), and single use of codes and refresh tokens across instances needs the store's
own atomic `UPDATE ... WHERE used_at IS NULL`, which those hooks cannot express. The grant rules
themselves are short and live in `request.py`, `provider.py` and `tokens.py`.

Modules: `clients` (the TOML file), `keys` (signing keys), `request` (an authorization request,
checked), `provider` (what the authorization endpoint does next), `tokens` (the token endpoint),
`resource` (UserInfo, revocation, introspection, the account page's apps), `logout` (RP-initiated
logout), `claims` (claims and the ID token).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authlib.oidc.discovery import OpenIDProviderMetadata

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.oidc.backchannel import BackChannel
from signin.accounts.oidc.claims import ACR_PASSWORD, ACR_TWO_FACTOR
from signin.accounts.oidc.clients import SCOPES, Client, load_clients
from signin.accounts.oidc.fresh import SignInMarks
from signin.accounts.oidc.keys import ALGS, ProviderKeys
from signin.accounts.oidc.provider import Authorizer
from signin.accounts.oidc.resource import Resources
from signin.accounts.oidc.tokens import Lifetimes, TokenIssuer
from signin.crypto.signing import StateSigner
from signin.stores.oidc import OidcStore

CLAIMS: tuple[str, ...] = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr")
CLAIMS += ("amr", "azp", "sid", "preferred_username", "name", "email", "email_verified", "groups")


def read_clients(path: Path | None) -> dict[str, Client]:
    """The registered clients; none when `SIGNIN_OIDC_CLIENTS` is unset."""
    return load_clients(path) if path is not None else {}


class OidcProvider:
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
        consent_signer: StateSigner,
        sign_in_signer: StateSigner,
    ) -> None:
        self.store = store
        self.consent_signer = consent_signer  # the consent form's copy of the request
        self.keys = keys
        self.clients = clients
        self.issuer = issuer
        self.clock = clock
        self.authorizer = Authorizer(
            store,
            keys,
            SignInMarks(sign_in_signer),
            issuer=issuer,
            code_seconds=lifetimes.code,
            clock=clock,
            audit=audit,
        )
        self.tokens = TokenIssuer(
            store,
            keys,
            clients,
            issuer=issuer,
            lifetimes=lifetimes,
            clock=clock,
            audit=audit,
            on_token=on_token,
        )
        self.resources = Resources(store, clients, issuer=issuer, clock=clock, audit=audit)
        self.metadata = discovery(issuer)
        self.backchannel = BackChannel(keys, clients, issuer=issuer, clock=clock)
        self._backchannel_clients = frozenset(
            client.id for client in clients.values() if client.backchannel_logout_uri
        )
        self._cors = frozenset(
            _origin(uri)
            for client in clients.values()
            if not client.confidential
            for uri in client.redirect_uris
            if uri.startswith(("https:", "http:"))  # a native app's scheme has no web origin
        )

    async def session_ended(self, user_id: int, session_id: str | None) -> None:
        """A session ended (sign-out, logout) or, with `session_id` None, every session of the
        user (sign-out everywhere, password change or reset, disabled): then the user's tokens
        are revoked too. Apps with a back-channel logout address are told either way."""
        if session_id is not None and not self._backchannel_clients:
            return
        now = self.clock()
        grants = await self.store.grants_for_user(user_id, now)
        if session_id is None:
            await self.store.revoke_for_user(user_id, now)
        else:
            grants = [grant for grant in grants if grant.session_id == session_id]
        if any(grant.client_id in self._backchannel_clients for grant in grants):
            self.backchannel.notify(await self.store.subject(user_id), grants)

    @property
    def cors_origins(self) -> frozenset[str]:
        """Web origins of the public clients' redirect URIs: single-page apps that call the
        token, UserInfo and revocation endpoints from the browser."""
        return self._cors

    def form_targets(self) -> list[str]:
        """The origins the clients' redirect URIs live on (the pages' CSP `form-action`)."""
        origins = set()
        for client in self.clients.values():
            for uri in (*client.redirect_uris, *client.post_logout_redirect_uris):
                origins.add(_origin(uri))
        return sorted(origins)

    async def subject(self, user_id: int) -> str:
        return await self.store.subject(user_id)


def _origin(uri: str) -> str:
    """The web origin of an http(s) URI; for a native app's private-use scheme, the scheme
    alone (`app.immich:`), as a CSP source names it."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http"):
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{parts.netloc}"


def discovery(issuer: str) -> dict[str, Any]:
    """The OpenID Provider Metadata, checked by authlib once (a mistake here fails at start)."""
    endpoint = f"{issuer}/oidc"
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{endpoint}/authorize",
        "token_endpoint": f"{endpoint}/token",
        "userinfo_endpoint": f"{endpoint}/userinfo",
        "jwks_uri": f"{endpoint}/jwks",
        "revocation_endpoint": f"{endpoint}/revoke",
        "introspection_endpoint": f"{endpoint}/introspect",
        "end_session_endpoint": f"{endpoint}/logout",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGS),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS),
        "acr_values_supported": [ACR_PASSWORD, ACR_TWO_FACTOR],
        "prompt_values_supported": ["none", "login", "consent"],  # select_account: ignored
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
    # authlib insists on https everywhere (RFC 8414); a plain-http issuer (a test on loopback)
    # is checked as its https twin so every other rule still applies.
    https = "https://" + issuer.split("://", 1)[1]
    checked = {
        key: value.replace(issuer, https, 1) if isinstance(value, str) else value
        for key, value in metadata.items()
    }
    OpenIDProviderMetadata(checked).validate()
    return metadata
