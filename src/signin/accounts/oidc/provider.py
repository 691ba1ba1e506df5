"""The authorization endpoint's policy: given a checked request and the browser's session, what
happens next, in one place.

    id_token_hint not ours ............. invalid_request
    no session ......................... sign in (prompt=none: login_required)
    prompt=login, max_age passed, ...... sign in again          (prompt=none: login_required)
      id_token_hint names another user
    still another user than the hint ... login_required (after the sign-in made for the request)
    client's groups not matched ........ access_denied, audited
    second factor required, not used .. step-up through /sign-in/two-factor
                                         (prompt=none: interaction_required)
    consent not given (or prompt=consent) consent page       (prompt=none: consent_required)
    otherwise .......................... a code, single use, `SIGNIN_OIDC_CODE_SECONDS` long

Sign-in, second step, passkeys and device proofs are signin's own pages, used as they are: the
browser goes there with a signed `next` leading back to this request, and comes back with a
session. A sign-in made for the request comes back with its mark (fresh.py), which satisfies
`prompt=login` and `max_age`: one sign-in is enough.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.oidc.claims import amr_of, issued_id_token
from signin.accounts.oidc.clients import Client
from signin.accounts.oidc.errors import OAuthError, invalid_request
from signin.accounts.oidc.fresh import SignInMarks
from signin.accounts.oidc.keys import ProviderKeys
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
        keys: ProviderKeys,
        marks: SignInMarks,
        *,
        issuer: str,
        code_seconds: int,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.store = store
        self.keys = keys
        self.marks = marks
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
        hinted = None
        if request.id_token_hint is not None:
            claims = issued_id_token(request.id_token_hint, self.keys, self.issuer)
            hinted = claims.get("sub") if claims else None
            if not isinstance(hinted, str):
                error = invalid_request("id_token_hint is not an ID token this service issued.")
                return self.refusal(request, error, canon(found.username) if found else None)
        if found is None:
            if not interactive:
                return self.refusal(request, OAuthError("login_required", "Not signed in."), None)
            marked = request.wants_fresh_sign_in or request.id_token_hint is not None
            return self._sign_in(request, now, marked=marked)
        user = canon(found.username)
        session = found.session
        after = self.marks.after(request)
        fresh = after is not None and session.created_at >= after
        other = hinted is not None and hinted != await self.store.subject(session.user_id)
        stale = not fresh and (
            "login" in request.prompt
            or (request.max_age is not None and now - session.created_at > request.max_age)
            or other
        )
        if stale:
            if not interactive:
                error = OAuthError("login_required", "A new sign-in is needed.")
                return self.refusal(request, error, user)
            return self._sign_in(request, now, marked=True)
        if other:  # signed in for this request, and still not the user the hint names
            error = OAuthError("login_required", "The signed-in user is not the hinted one.")
            return self.refusal(request, error, user)
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

    def _sign_in(self, request: AuthRequest, now: float, *, marked: bool) -> SignIn:
        """To the sign-in page and back; `marked` when the request wants a sign-in of its own
        (`prompt=login`, `max_age`, `id_token_hint`), so the one about to happen counts."""
        return SignIn(request.resume_url(mark=self.marks.make(request, now) if marked else None))

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
