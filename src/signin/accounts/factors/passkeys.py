"""Passkeys (SPEC section 14): the ceremony glue around py_webauthn.

The cryptography (attestation, assertion signatures, origin, RP id and flag checks) is
py_webauthn's. Ours are the challenges, the storage and the policy:
- Challenges are single-use, browser-held and live 5 minutes (`challenges.py`).
- A passkey sign-in without a password needs user verification (the passkey is then both
  factors); as the second step after a password, user presence is enough.
- The sign counter must grow whenever either side of the comparison is non-zero (py_webauthn
  refuses the rest), and the new value is written only if nobody moved it meanwhile, so two
  copies of one credential racing each other cannot both pass.
- A credential of a disabled user is refused; a deleted user's credentials are deleted with it.

py_webauthn (with its cryptography and ASN.1 stack) is imported by the methods that run a
ceremony, not at import: building the services for a CLI command or a test needs none of it.
"""

from __future__ import annotations

import functools
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.errors import (
    InvalidInput,
    MailNotSent,
    NotFound,
    PasskeyNotAdded,
    PasskeyRefused,
    PasskeyTaken,
    Problem,
)
from signin.accounts.factors.challenges import CHALLENGE_SECONDS, Challenges, Opened
from signin.i18n import N_
from signin.mail import Letters
from signin.stores.base import (
    DuplicatePasskey,
    PasskeyRecord,
    PasskeyStore,
    UserRecord,
    UserStore,
)

if TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

log = logging.getLogger("signin.passkeys")
TIMEOUT_MS = CHALLENGE_SECONDS * 1000
NAME_MAX = 64
MAX_PASSKEYS = 20


@dataclass(frozen=True)
class Ceremony:
    """Options for `navigator.credentials.create/get` and the state the browser keeps."""

    options: dict[str, Any]
    state: str


def clean_name(name: str) -> str:
    """The passkey's name as shown on /account; `InvalidInput` when empty, long or unprintable."""
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        message, params = N_("Give the passkey a name, such as the device it lives on."), {}
    elif len(text) > NAME_MAX:
        message, params = N_("Use at most %(max)d characters for the name."), {"max": NAME_MAX}
    elif any(unicodedata.category(char).startswith("C") for char in text):
        message, params = N_("The name may not contain control characters."), {}
    else:
        return text
    raise InvalidInput([Problem("passkey_name", "name", message, params)])


class Passkeys:
    def __init__(
        self,
        store: PasskeyStore,
        challenges: Challenges,
        users: UserStore,
        *,
        rp_id: str,
        rp_name: str,
        origin: str,
        clock: Clock,
        letters: Letters | None = None,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.audit = audit
        self.store = store
        self.challenges = challenges
        self.users = users
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origin = origin
        self.clock = clock
        self.letters = letters

    # -- the account page ------------------------------------------------------------------

    async def list(self, user_id: int) -> list[PasskeyRecord]:
        return await self.store.list_for_user(user_id)

    async def remove(self, user_id: int, passkey_id: int) -> PasskeyRecord:
        """Delete one of the user's passkeys; `NotFound` when the user has no such passkey."""
        mine = {record.id: record for record in await self.store.list_for_user(user_id)}
        if passkey_id not in mine or not await self.store.delete(user_id, passkey_id):
            raise NotFound(N_("No such passkey."))
        user = await self.users.by_id(user_id)
        if user is not None:
            self.audit.record("passkey_removed", user.username_canon, name=mine[passkey_id].name)
            await self._notify(user, added=False, name=mine[passkey_id].name)
        return mine[passkey_id]

    async def registration_options(self, user: UserRecord) -> Ceremony:
        existing = await self.store.list_for_user(user.id)
        if len(existing) >= MAX_PASSKEYS:
            raise InvalidInput(
                [
                    Problem(
                        "passkey_limit",
                        "name",
                        N_("An account holds at most %(max)d passkeys."),
                        {"max": MAX_PASSKEYS},
                    )
                ]
            )
        from webauthn import generate_registration_options
        from webauthn.helpers import options_to_json_dict
        from webauthn.helpers.structs import (
            AuthenticatorSelectionCriteria,
            ResidentKeyRequirement,
            UserVerificationRequirement,
        )

        handle = await self.store.user_handle(user.id) or secrets.token_bytes(32)
        challenge, state = self.challenges.new("register", user.id, handle)
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_name=user.username,
            user_id=handle,
            challenge=challenge,
            timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[_descriptor(record) for record in existing],
        )
        return Ceremony(options_to_json_dict(options), state)

    async def register(
        self, user: UserRecord, state: str, credential: Any, name: str
    ) -> PasskeyRecord:
        """Verify `navigator.credentials.create()`'s answer and store the new passkey."""
        from webauthn import verify_registration_response
        from webauthn.helpers.exceptions import WebAuthnException

        shown = clean_name(name)
        opened = await self.challenges.take(state, "register", user.id)
        try:
            verified = verify_registration_response(
                credential=_as_dict(credential),
                expected_challenge=opened.challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError):
            raise PasskeyNotAdded() from None
        try:
            record = await self.store.add(
                user_id=user.id,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                user_handle=opened.handle,
                name=shown,
                transports=_transports(credential),
                now=self.clock(),
            )
        except DuplicatePasskey:
            raise PasskeyTaken() from None
        self.audit.record("passkey_added", user.username_canon, name=record.name)
        await self._notify(user, added=True, name=record.name)
        return record

    # -- signing in ------------------------------------------------------------------------

    async def sign_in_options(self) -> Ceremony:
        """Options for a passwordless sign-in: any discoverable credential, verified user."""
        from webauthn import generate_authentication_options
        from webauthn.helpers import options_to_json_dict
        from webauthn.helpers.structs import UserVerificationRequirement

        challenge, state = self.challenges.new("sign_in", None)
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=challenge,
            timeout=TIMEOUT_MS,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return Ceremony(options_to_json_dict(options), state)

    async def second_step_options(self, user_id: int) -> Ceremony:
        """Options for the step after a password: one of this user's passkeys."""
        from webauthn import generate_authentication_options
        from webauthn.helpers import options_to_json_dict
        from webauthn.helpers.structs import UserVerificationRequirement

        challenge, state = self.challenges.new("second_step", user_id)
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=challenge,
            timeout=TIMEOUT_MS,
            allow_credentials=[_descriptor(r) for r in await self.store.list_for_user(user_id)],
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return Ceremony(options_to_json_dict(options), state)

    async def has_passkeys(self, user_id: int) -> bool:
        return await self.store.user_handle(user_id) is not None

    async def sign_in(self, state: str, credential: Any) -> UserRecord:
        """The user a verified passwordless assertion names; `PasskeyRefused` otherwise."""
        opened = await self.challenges.take(state, "sign_in", None)
        user = await self._verify(opened, credential, user_id=None, need_uv=True)
        self.audit.record("sign_in", user.username_canon, two_factor=True, passkey=True)
        return user

    async def second_step(self, user_id: int, state: str, credential: Any) -> UserRecord:
        """Check a passkey of `user_id` as the second step after their password."""
        opened = await self.challenges.take(state, "second_step", user_id)
        return await self._verify(opened, credential, user_id=user_id, need_uv=False)

    async def _notify(self, user: UserRecord, *, added: bool, name: str) -> None:
        """Tell a verified address about a new or removed passkey (a stranger's shows up)."""
        if self.letters is None or not (user.email and user.email_verified):
            return
        try:
            await self.letters.passkey_changed(user, added=added, name=name, when=self.clock())
        except MailNotSent as exc:
            log.warning("passkey notice not sent: %s", exc.detail)

    # -- checking an assertion --------------------------------------------------------------

    async def _verify(
        self, opened: Opened, credential: Any, *, user_id: int | None, need_uv: bool
    ) -> UserRecord:
        from webauthn import verify_authentication_response
        from webauthn.helpers import parse_authentication_credential_json
        from webauthn.helpers.exceptions import WebAuthnException

        try:
            parsed = parse_authentication_credential_json(_as_dict(credential))
        except (WebAuthnException, ValueError, TypeError, KeyError):
            raise PasskeyRefused() from None
        record = await self.store.by_credential_id(parsed.raw_id)
        if record is None or (user_id is not None and record.user_id != user_id):
            raise PasskeyRefused()
        handle = parsed.response.user_handle
        if handle is not None and not secrets.compare_digest(handle, record.user_handle):
            raise PasskeyRefused()
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=opened.challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=record.public_key,
                credential_current_sign_count=record.sign_count,
                require_user_verification=need_uv,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError):
            raise PasskeyRefused() from None
        user = await self.users.by_id(record.user_id)
        if user is None or user.disabled:
            raise PasskeyRefused()
        if not await self.store.record_use(
            record.id, record.sign_count, verified.new_sign_count, self.clock()
        ):
            raise PasskeyRefused()  # another assertion moved the counter first: a clone
        return user


def _descriptor(record: PasskeyRecord) -> PublicKeyCredentialDescriptor:
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    return PublicKeyCredentialDescriptor(
        id=record.credential_id,
        transports=[AuthenticatorTransport(item) for item in record.transports],
    )


def _as_dict(credential: Any) -> dict[str, Any]:
    if not isinstance(credential, dict):
        raise TypeError("a credential is a JSON object")
    return credential


@functools.cache
def _known_transports() -> frozenset[str]:
    from webauthn.helpers.structs import AuthenticatorTransport

    return frozenset(item.value for item in AuthenticatorTransport)


def _transports(credential: Any) -> tuple[str, ...]:
    """The transports the browser reported, the known ones only (they steer later prompts)."""
    response = credential.get("response") if isinstance(credential, dict) else None
    listed = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(listed, list):
        return ()
    known = _known_transports()
    return tuple(dict.fromkeys(item for item in listed if item in known))[:8]
