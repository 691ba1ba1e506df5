"""Sign-in as an explicit flow (STYLE 14): what is still required after the password.

A right password for an account with a second factor makes a *pending step*, never a session:
a signed value (`StateSigner`, purpose `two-factor`, 5 minutes) naming the user, the methods,
`remember` and the signed `next`, plus a random nonce kept as a one-time token (purpose
`two-factor`, its stamp tied to the password hash). The second step redeems the nonce when it
succeeds, so a pending step mints at most one session, and a password change kills it.

The fail lock covers the second step: each code tried reserves an attempt on the username (and
the client IP) before it is checked, a wrong code keeps it, and only a right code clears the
username's failures. A trusted password step (a device proof, SPEC 5a) records its proof's lock
key in the signed pending state, so its codes count on that proof as its password did: the lock
that strangers put on the username stops neither step of the owner's browser. A right
password alone leaves them as they were (its own attempt is taken back), so re-entering the
password does not buy fresh guesses at the code.

A signed-in session made by a password alone can be *stepped up* the same way (`step_up`):
forward-auth's `two_factor` policy and other strong-only pages send it to the second step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.errors import (
    AccountLocked,
    ChallengeInvalid,
    InvalidCode,
    TokenInvalid,
    TwoFactorState,
)
from signin.accounts.factors.manager import Method, TwoFactor
from signin.accounts.factors.passkeys import Ceremony, Passkeys
from signin.accounts.lockout import Lockout
from signin.accounts.signin import Authenticator
from signin.accounts.tokens import OneTimeTokens
from signin.crypto.signing import StateSigner
from signin.i18n import N_
from signin.stores.base import UserRecord, UserStore

PENDING_SECONDS = 300
METHODS = ("totp", "recovery")
STEP_UP_PATH = "/sign-in/two-factor"


@dataclass(frozen=True)
class SignedIn:
    """Nothing more is required: issue a session."""

    user: UserRecord
    two_factor: bool
    remember: bool
    next: str
    sig: str


@dataclass(frozen=True)
class Pending:
    """A second step is due; `challenge` is the signed pending state."""

    user: UserRecord
    challenge: str
    methods: tuple[str, ...]
    expires_at: float
    remember: bool
    next: str
    sig: str


class SignInFlow:
    def __init__(
        self,
        users: UserStore,
        authenticator: Authenticator,
        lockout: Lockout,
        two_factor: TwoFactor,
        tokens: OneTimeTokens,
        signer: StateSigner,
        *,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
        passkeys: Passkeys | None = None,
    ) -> None:
        self.users = users
        self.authenticator = authenticator
        self.lockout = lockout
        self.two_factor = two_factor
        self.tokens = tokens
        self.signer = signer
        self.clock = clock
        self.audit = audit
        self.passkeys = passkeys

    async def password_step(
        self,
        username: str,
        password: str,
        ip: str | None,
        *,
        remember: bool = False,
        next: str = "",
        sig: str = "",
        proofs: Iterable[str | None] = (),
    ) -> SignedIn | Pending:
        user, attempt = await self.authenticator.check_password_attempt(
            username, password, ip, proofs
        )
        try:
            due = await self.two_factor.enabled(user.id)
        except BaseException:
            await self.lockout.abandoned(attempt)
            raise
        if not due:
            await self.lockout.succeeded(attempt)
            self.audit.record("sign_in", user.username_canon)
            return SignedIn(user, False, remember, next, sig)
        await self.lockout.abandoned(attempt)
        self.audit.record("two_factor_required", user.username_canon)
        nonce = await self.tokens.issue(user, "two-factor", PENDING_SECONDS)
        methods: tuple[str, ...] = METHODS
        if self.passkeys is not None and await self.passkeys.has_passkeys(user.id):
            methods += ("passkey",)  # a passkey may serve as the second step (SPEC 14)
        state = {"u": user.id, "n": nonce, "r": remember, "x": next, "s": sig, "m": list(methods)}
        if attempt.trusted:
            state["d"] = attempt.user_key  # the proof's lock key, for the codes (SPEC 5a)
        return Pending(
            user,
            self.signer.dumps(state),
            methods,
            self.clock() + PENDING_SECONDS,
            remember,
            next,
            sig,
        )

    def peek(self, challenge: str) -> dict[str, Any] | None:
        """The pending state if its signature holds and it is not older than 5 minutes."""
        state = self.signer.loads(challenge)
        if state is None or not isinstance(state.get("u"), int) or not state.get("n"):
            return None
        return state

    async def complete(
        self, challenge: str, code: str, ip: str | None, *, remember: bool | None = None
    ) -> SignedIn:
        """Check `code` for the pending step; on success the step is used up."""
        state, user = await self._pending(challenge)
        device = state.get("d")
        await self._check_code(user, code, ip, device if isinstance(device, str) else None)
        return await self._finish(state, user, remember)

    async def passkey_options(self, challenge: str) -> Ceremony:
        """Options for answering the pending step with one of the user's passkeys."""
        if self.passkeys is None:
            raise ChallengeInvalid()
        _, user = await self._pending(challenge)
        return await self.passkeys.second_step_options(user.id)

    async def complete_with_passkey(
        self, challenge: str, ceremony: str, credential: Any, *, remember: bool | None = None
    ) -> SignedIn:
        """Check a passkey of the pending step's user (`ceremony`: the state from
        `passkey_options`); on success the step is used up. No fail-lock attempt is counted:
        an assertion cannot be guessed, so a refused one is no guess."""
        if self.passkeys is None:
            raise ChallengeInvalid()
        state, user = await self._pending(challenge)
        await self.passkeys.second_step(user.id, ceremony, credential)
        return await self._finish(state, user, remember)

    async def _pending(self, challenge: str) -> tuple[dict[str, Any], UserRecord]:
        """The pending state and its user while the step is still open; else `ChallengeInvalid`."""
        state = self.peek(challenge)
        if state is None:
            raise ChallengeInvalid()
        try:
            found = await self.tokens.check(str(state["n"]), "two-factor", user_id=int(state["u"]))
        except TokenInvalid:
            raise ChallengeInvalid() from None
        return state, found.user

    async def _finish(
        self, state: dict[str, Any], user: UserRecord, remember: bool | None
    ) -> SignedIn:
        try:
            await self.tokens.redeem(str(state["n"]), "two-factor", user_id=user.id)
        except TokenInvalid:
            raise ChallengeInvalid() from None  # a racing request with another code won
        # `remember` given at the second step (API) decides; else the first step's choice.
        keep = bool(state.get("r")) if remember is None else remember
        self.audit.record("sign_in", user.username_canon, two_factor=True)
        return SignedIn(user, True, keep, str(state.get("x") or ""), str(state.get("s") or ""))

    async def can_step_up(self, user_id: int) -> bool:
        return await self.two_factor.enabled(user_id)

    async def step_up(
        self, user_id: int, code: str, ip: str | None, *, proofs: Iterable[str | None] = ()
    ) -> UserRecord:
        """A password-only session's owner proves the second factor; the caller then replaces
        the session with a two-factor one. `proofs`: the browser's device proofs (SPEC 5a)."""
        user = await self.users.by_id(user_id)
        if user is None or user.disabled:
            raise ChallengeInvalid()
        if not await self.two_factor.enabled(user.id):
            raise TwoFactorState(N_("Two-factor sign-in is not set up for this account."))
        device = self.authenticator.device_key(user.username_canon, proofs)
        await self._check_code(user, code, ip, device)
        self.audit.record("sign_in", user.username_canon, two_factor=True, step_up=True)
        return user

    async def _check_code(
        self, user: UserRecord, code: str, ip: str | None, device: str | None = None
    ) -> Method:
        try:
            attempt = await self.lockout.reserve(user.username_canon, ip, device)
        except AccountLocked:
            self.audit.record("sign_in_locked", user.username_canon, step="two_factor")
            raise
        method = await self.two_factor.verify(user.id, code)
        if method is None:
            self.audit.record("sign_in_failed", user.username_canon, step="two_factor")
            raise InvalidCode()  # the reserved attempt stays counted
        await self.lockout.succeeded(attempt)
        return method
