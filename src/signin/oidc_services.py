"""Wiring of the OpenID Connect provider, built on first use.

The web app builds it at start (`create_app` reads its clients for the CSP), so a bad clients
or key file still shows at once. A CLI command builds it only when one of its sessions ends
(`signin sessions end`, `signin users disable`: the user's tokens are revoked then), so the
other commands never load the JOSE libraries (bench/cli_startup.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from signin.accounts.clock import Clock, system_clock

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from signin.accounts.audit import AuditLog
    from signin.accounts.oidc import OidcProvider
    from signin.accounts.oidc.keys import ProviderKeys
    from signin.crypto.keys import KeyRing
    from signin.settings import Settings
    from signin.telemetry import Metrics

CONSENT_SECONDS = 900  # a consent page left open longer asks again


def provider_keys(settings: Settings, clock: Clock = system_clock) -> ProviderKeys:
    """The OIDC signing keys (a retired key stays published while the tokens it signed live)."""
    from signin.accounts.oidc.keys import ProviderKeys

    return ProviderKeys(
        settings.oidc_keys_path, publish_seconds=settings.oidc_access_token_seconds, clock=clock
    )


def build_oidc(
    settings: Settings,
    engine: AsyncEngine,
    ring: KeyRing,
    *,
    clock: Clock,
    audit: AuditLog,
    metrics: Metrics,
) -> OidcProvider:
    """The provider; `ClientsError` or `KeysError` (one line) for a bad clients or key file."""
    from signin.accounts.oidc import OidcProvider, read_clients
    from signin.accounts.oidc.fresh import MARK_SECONDS
    from signin.accounts.oidc.tokens import Lifetimes
    from signin.crypto.signing import StateSigner
    from signin.stores.sql.oidc import SqlOidcStore

    keys = provider_keys(settings, clock)
    keys.load()
    return OidcProvider(
        SqlOidcStore(engine),
        keys,
        read_clients(settings.oidc_clients),
        issuer=settings.public_url.rstrip("/"),
        lifetimes=Lifetimes(
            code=settings.oidc_code_seconds,
            access=settings.oidc_access_token_seconds,
            refresh=settings.oidc_refresh_token_seconds,
        ),
        clock=clock,
        audit=audit,
        on_token=metrics.oidc_token,
        consent_signer=StateSigner(ring, "oidc-consent", CONSENT_SECONDS),
        sign_in_signer=StateSigner(ring, "oidc-sign-in", MARK_SECONDS, clock),
    )


class LazyProvider:
    """Builds the provider with `build` the first time it is asked for."""

    def __init__(self, build: Callable[[], OidcProvider]) -> None:
        self._build = build
        self._provider: OidcProvider | None = None

    def get(self) -> OidcProvider:
        if self._provider is None:
            self._provider = self._build()
        return self._provider

    async def session_ended(self, user_id: int, session_id: str | None) -> None:
        """`SessionManager.after_end`: the provider revokes the user's tokens, tells the apps."""
        await self.get().session_ended(user_id, session_id)

    async def close(self) -> None:
        if self._provider is not None:
            await self._provider.backchannel.drain()
