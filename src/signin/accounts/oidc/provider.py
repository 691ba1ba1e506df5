"""The authorization endpoint's policy: given a checked request and the browser's session, what
happens next, in one place.

    no session ......................... sign in (prompt=none: login_required)
    prompt=login, max_age passed ....... sign in again          (prompt=none: login_required)
    client's groups not matched ........ access_denied, audited
    second factor required, not used .. step-up through /sign-in/two-factor
                                         (prompt=none: interaction_required)
    consent not given (or prompt=consent) consent page       (prompt=none: consent_required)
    otherwise .......................... a code, single use, `SIGNIN_OIDC_CODE_SECONDS` long

Sign-in, second step, passkeys and device proofs are signin's own pages, used as they are: the
browser goes there with a signed `next` leading back to this request, and comes back with a
session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.oidc.claims import amr_of
from signin.accounts.oidc.clients import Client
from signin.accounts.oidc.errors import OAuthError
from signin.accounts.oidc.request import AuthRequest, RedirectError
from signin.accounts.sessions import token_hash as digest
from signin.accounts.usernames import canon
from signin.stores.base import SessionUser
from signin.stores.oidc import CodeRecord, ConsentRecord, OidcStore


@dataclass(frozen=True)
class SignIn:
    """Send the browser to sign in (`step_up`: to the second step) and back to `resume`."""

    resume: str
    step_up: bool = False


@dataclass(frozen=True)
class AskConsent:
    request: AuthRequest


@dataclass(frozen=True)
class Respond:
    """Parameters for the client's redirect URI (a code or an error), in the request's mode."""

    request: AuthRequest
    params: dict[str, str]


Decision = SignIn | AskConsent | Respond
PURGE_EVERY = 300.0


class Authorizer:
    def __init__(
        self,
        store: OidcStore,
        *,
        issuer: str,
        code_seconds: int,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.code_seconds = code_seconds
        self.clock = clock
        self.audit = audit
        self._next_purge = 0.0

    def refusal(self, request: AuthRequest, error: OAuthError, user: str | None) -> Respond:
        self.audit.record("oidc_request_refused", user, client=request.client.id, error=error.error)
        return self.respond(request, {"error": error.error, "error_description": error.description})

    def respond(self, request: AuthRequest, params: dict[str, str]) -> Respond:
        if request.state is not None:
            params["state"] = request.state
        params["iss"] = self.issuer  # RFC 9207
        return Respond(request, params)

    def unknown_client(self, params: dict[str, str]) -> None:
        """A request naming no registered client or redirect URI: audited, then a page."""
        client = (params.get("client_id") or "")[:64] or None
        self.audit.record("oidc_request_refused", None, client=client, error="invalid_client")

    def redirect_error(self, error: RedirectError) -> Respond:
        return self.refusal(error.request, error, None)

    async def decide(
        self, request: AuthRequest, found: SessionUser | None, *, consented: bool = False
    ) -> Decision:
        now = self.clock()
        interactive = "none" not in request.prompt
        if found is None:
            if not interactive:
                return self.refusal(request, OAuthError("login_required", "Not signed in."), None)
            return SignIn(request.resume_url())
        user = canon(found.username)
        session = found.session
        stale = (
            ("login" in request.prompt and request.auth_after is None)
            or (request.max_age is not None and now - session.created_at > request.max_age)
            or (request.auth_after is not None and session.created_at < request.auth_after)
        )
        if stale:
            if not interactive:
                error = OAuthError("login_required", "A new sign-in is needed.")
                return self.refusal(request, error, user)
            return SignIn(request.resume_url(force_login_at=now))
        client = request.client
        if not client.admits(found.groups):
            error = OAuthError("access_denied", "This account may not use this application.")
            return self.refusal(request, error, user)
        if (client.require_two_factor or request.wants_two_factor) and not session.two_factor:
            if not interactive:
                error = OAuthError("interaction_required", "A second factor is needed.")
                return self.refusal(request, error, user)
            return SignIn(request.resume_url(), step_up=True)
        if not consented and await self._needs_consent(request, session.user_id):
            if not interactive:
                error = OAuthError("consent_required", "The user has not given consent.")
                return self.refusal(request, error, user)
            return AskConsent(request)
        return self.respond(request, {"code": await self._code(request, found, now)})

    async def _needs_consent(self, request: AuthRequest, user_id: int) -> bool:
        if request.client.consent == "skip":
            return False
        if "consent" in request.prompt:
            return True
        given = await self.store.consent(user_id, request.client.id)
        return given is None or not set(request.scope) <= set(given.scope.split())

    async def _code(self, request: AuthRequest, found: SessionUser, now: float) -> str:
        code = secrets.token_urlsafe(32)
        session = found.session
        await self.store.add_code(
            CodeRecord(
                code_hash=digest(code),
                client_id=request.client.id,
                user_id=session.user_id,
                redirect_uri=request.redirect_uri,
                scope=" ".join(request.scope),
                nonce=request.nonce,
                code_challenge=request.code_challenge,
                code_challenge_method=request.code_challenge_method,
                auth_time=session.created_at,
                amr=amr_of(session.two_factor),
                session_id=session.id,
                created_at=now,
                expires_at=now + self.code_seconds,
            )
        )
        if now >= self._next_purge:  # old codes and ended families go, no cron needed
            self._next_purge = now + PURGE_EVERY
            await self.store.purge(now)
        return code

    async def answer_consent(
        self, request: AuthRequest, found: SessionUser | None, approved: bool
    ) -> Decision:
        """The consent page's answer: remember it (per user and client), then go on."""
        if found is None:
            return await self.decide(request, None)
        user = canon(found.username)
        if not approved:
            error = OAuthError("access_denied", "The user did not allow access.")
            return self.refusal(request, error, user)
        if request.client.consent == "remember":
            scope = " ".join(request.scope)
            await self.store.give_consent(
                ConsentRecord(found.session.user_id, request.client.id, scope, self.clock())
            )
            self.audit.record("oidc_consent_given", user, client=request.client.id, scope=scope)
        return await self.decide(request, found, consented=True)

    async def withdraw(self, user_id: int, username: str, client: Client | str) -> bool:
        """The account page's "remove access": the consent goes, and every token with it."""
        client_id = client if isinstance(client, str) else client.id
        withdrawn = await self.store.withdraw_consent(user_id, client_id)
        revoked = await self.store.revoke_for_user(user_id, self.clock(), client_id)
        if withdrawn or revoked:
            self.audit.record("oidc_consent_revoked", canon(username), client=client_id[:64])
        return bool(withdrawn or revoked)
