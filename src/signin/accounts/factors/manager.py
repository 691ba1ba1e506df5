"""A user's second factor: enrol, confirm, check a code, disable, new recovery codes, reset.

Checking a code is where replay is stopped: a TOTP code names a time step, and the step counts
only if `FactorStore.use_step` moves the account's last used step forward (one conditional
UPDATE, so of two racing requests with one code exactly one wins); a recovery code counts only
if `use_recovery` marks an unused one used. Proving "it is me" to disable the factor or make new
codes takes a current code or the password, both counted on the fail lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.errors import (
    InvalidCode,
    InvalidCredentials,
    MailNotSent,
    NotFound,
    TwoFactorState,
    WrongPassword,
)
from signin.accounts.factors import recovery, totp
from signin.accounts.lockout import Lockout
from signin.accounts.signin import Authenticator
from signin.accounts.usernames import canon
from signin.crypto.sealing import Opened, SealBroken, SecretBox
from signin.i18n import N_
from signin.mail import Letters
from signin.stores.base import FactorStore, TotpRecord, UserRecord, UserStore

log = logging.getLogger("signin.two_factor")
Method = Literal["totp", "recovery"]
ISSUER = "signin"


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret, as text and as a QR code of its URI."""

    secret: str
    uri: str
    qr_svg: str


@dataclass(frozen=True)
class Status:
    enabled: bool
    enrolment: Enrolment | None
    recovery_left: int


def _owner(user_id: int) -> bytes:
    return f"totp:{user_id}".encode("ascii")


class TwoFactor:
    def __init__(
        self,
        users: UserStore,
        store: FactorStore,
        box: SecretBox,
        hasher: recovery.RecoveryHasher,
        authenticator: Authenticator,
        lockout: Lockout,
        letters: Letters,
        *,
        issuer: str,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.users = users
        self.store = store
        self.box = box
        self.hasher = hasher
        self.authenticator = authenticator
        self.lockout = lockout
        self.letters = letters
        self.issuer = issuer or ISSUER
        self.clock = clock
        self.audit = audit

    async def enabled(self, user_id: int) -> bool:
        record = await self.store.totp(user_id)
        return record is not None and record.confirmed_at is not None

    async def status(self, user: UserRecord) -> Status:
        record = await self.store.totp(user.id)
        if record is None:
            return Status(False, None, 0)
        if record.confirmed_at is None:
            return Status(False, self._enrolment(user, record), 0)
        return Status(True, None, await self.store.recovery_left(user.id))

    async def begin(self, user: UserRecord) -> None:
        """Make a new unconfirmed secret (replacing one not yet confirmed)."""
        if await self.enabled(user.id):
            raise TwoFactorState(N_("Two-factor sign-in is on already."))
        secret = totp.new_secret()
        await self.store.begin_totp(
            user.id, self.box.seal(secret.encode("ascii"), _owner(user.id)), self.clock()
        )

    async def confirm(self, user: UserRecord, code: str) -> list[str]:
        """Turn the factor on with a current code; returns the recovery codes (shown once)."""
        record = await self.store.totp(user.id)
        if record is None or record.confirmed_at is not None:
            raise TwoFactorState(N_("There is no two-factor set-up waiting for a code."))
        now = self.clock()
        step = totp.matching_step(self._secret(record), code, now)
        if step is None:
            raise InvalidCode(N_("That code is not right. Enter the current code from your app."))
        codes = recovery.new_codes()
        if not await self.store.confirm_totp(
            user.id, step, now, [self.hasher.hash(c) for c in codes]
        ):
            raise TwoFactorState(N_("There is no two-factor set-up waiting for a code."))
        log.info("two-factor turned on for user id %d", user.id)
        self.audit.record("two_factor_enabled", user.username_canon)
        await self._notify(user, on=True, when=now)
        return codes

    async def verify(self, user_id: int, code: str) -> Method | None:
        """Use `code` up if it is a current TOTP code (new time step) or an unused recovery
        code of this user; None otherwise (wrong, replayed, or no factor)."""
        record = await self.store.totp(user_id)
        if record is None or record.confirmed_at is None:
            return None
        now = self.clock()
        if totp.looks_like_code(code):
            opened = self._open(record)
            secret = opened.plaintext.decode("ascii")
            step = totp.matching_step(secret, code, now)
            if step is None or not await self.store.use_step(user_id, step):
                return None
            if opened.needs_reseal:  # sealed under a fallback key: move it to the current one
                await self.store.reseal_totp(
                    user_id, self.box.seal(opened.plaintext, _owner(user_id))
                )
            return "totp"
        if await self.store.use_recovery(user_id, self.hasher.candidates(code), now):
            log.info("recovery code used for user id %d", user_id)
            left = await self.store.recovery_left(user_id)
            user = await self.users.by_id(user_id)
            name = user.username_canon if user is not None else None
            self.audit.record("recovery_code_used", name, left=left)
            return "recovery"
        return None

    async def prove(self, user: UserRecord, *, code: str, password: str, ip: str | None) -> None:
        """A current code or the password, either one counted on the fail lock."""
        if code.strip():
            attempt = await self.lockout.reserve(user.username_canon, ip)
            if await self.verify(user.id, code) is None:
                raise InvalidCode()
            await self.lockout.succeeded(attempt)
            return
        try:
            await self.authenticator.sign_in(user.username, password, ip, during="two_factor")
        except InvalidCredentials:
            raise WrongPassword() from None

    async def disable(self, user: UserRecord, *, code: str, password: str, ip: str | None) -> None:
        if not await self.enabled(user.id):
            raise TwoFactorState(N_("Two-factor sign-in is not on."))
        await self.prove(user, code=code, password=password, ip=ip)
        await self.reset(user)

    async def renew_codes(
        self, user: UserRecord, *, code: str, password: str, ip: str | None
    ) -> list[str]:
        if not await self.enabled(user.id):
            raise TwoFactorState(N_("Two-factor sign-in is not on."))
        await self.prove(user, code=code, password=password, ip=ip)
        codes = recovery.new_codes()
        await self.store.replace_recovery(
            user.id, [self.hasher.hash(c) for c in codes], self.clock()
        )
        log.info("new recovery codes for user id %d", user.id)
        return codes

    async def reset(self, user: UserRecord) -> bool:
        """Remove the factor without proof (the owner's own disable, `signin users two-factor
        reset`); tells a verified address. False when there was nothing to remove."""
        record = await self.store.totp(user.id)
        removed = await self.store.remove(user.id)
        if removed and record is not None and record.confirmed_at is not None:
            log.info("two-factor turned off for user id %d", user.id)
            self.audit.record("two_factor_disabled", user.username_canon)
            await self._notify(user, on=False, when=self.clock())
        return removed

    async def reset_by_name(self, username: str) -> UserRecord:
        """`signin users two-factor reset USERNAME` (a lost phone); `TwoFactorState` when the
        account has no second factor, `NotFound` when there is no such account."""
        user = await self.users.by_canon(canon(username.strip()))
        if user is None:
            raise NotFound(N_("no account named %(username)r"), username=username)
        if not await self.reset(user):
            raise TwoFactorState(N_("%(username)s has no second factor"), username=user.username)
        return user

    def _open(self, record: TotpRecord) -> Opened:
        try:
            return self.box.open(record.secret, _owner(record.user_id))
        except SealBroken:
            # Its key is gone (a fallback dropped too early) or the row was tampered with.
            log.error("the TOTP secret of user id %d cannot be decrypted", record.user_id)
            raise TwoFactorState(
                N_(
                    "The two-factor key of this account cannot be read. Use a recovery code, or "
                    "ask the operator to run: signin users two-factor reset USERNAME"
                )
            ) from None

    def _secret(self, record: TotpRecord) -> str:
        return self._open(record).plaintext.decode("ascii")

    def _enrolment(self, user: UserRecord, record: TotpRecord) -> Enrolment:
        secret = self._secret(record)
        uri = totp.provisioning_uri(secret, user.username, self.issuer)
        return Enrolment(secret, uri, totp.qr_svg(uri))

    async def _notify(self, user: UserRecord, *, on: bool, when: float) -> None:
        if not (user.email and user.email_verified):
            return
        try:
            await self.letters.two_factor_changed(user, on=on, when=when)
        except MailNotSent as exc:
            log.warning("two-factor notice not sent: %s", exc.detail)
