"""Sign-up modes and invites (SPEC section 12).

An invite is a random token; only its SHA-256 is stored. Using one is a single conditional
UPDATE in the same transaction as the new account (stores/sql/invites.py), so a one-use invite
makes exactly one account however many sign-ups race for it.
"""

from __future__ import annotations

import hashlib
import secrets

from signin.accounts.access.groups import check_groups
from signin.accounts.addresses import email_canon, normalize_email
from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.errors import InvalidInput, InviteInvalid, NotFound, Problem
from signin.i18n import N_
from signin.stores.base import InviteRecord, InviteStore, NewUser, UserRecord

MODES = ("open", "invite", "closed")
DEFAULT_SECONDS = 7 * 86400
MAX_USES = 10_000
MAX_SECONDS = 366 * 86400  # a year: an invite is for someone expected soon, not a standing door
TOKEN_MAX = 128


def invite_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class Invites:
    def __init__(self, store: InviteStore, *, clock: Clock, audit: Recorder = NO_AUDIT) -> None:
        self.store = store
        self.clock = clock
        self.audit = audit

    async def create(
        self,
        *,
        email: str = "",
        groups: tuple[str, ...] = (),
        uses: int = 1,
        expires_seconds: int = DEFAULT_SECONDS,
    ) -> tuple[str, InviteRecord]:
        """A new invite and its token (shown once: only its hash is kept)."""
        address, problems = normalize_email(email)
        if not 1 <= uses <= MAX_USES:
            problems.append(
                Problem("uses", "uses", N_("Uses must be 1 to %(max)d."), {"max": MAX_USES})
            )
        if not 1 <= expires_seconds <= MAX_SECONDS:
            problems.append(
                Problem(
                    "expires",
                    "expires",
                    N_("Expiry must be from 1 to %(max)d seconds."),
                    {"max": MAX_SECONDS},
                )
            )
        if problems:
            raise InvalidInput(problems)
        names = check_groups(groups)
        now = self.clock()
        token = secrets.token_urlsafe(32)
        record = InviteRecord(
            id=secrets.token_hex(4),
            email=address,
            groups=names,
            max_uses=uses,
            uses=0,
            created_at=now,
            expires_at=now + expires_seconds,
            revoked_at=None,
        )
        await self.store.add(invite_hash(token), record, email_canon(address) if address else None)
        self.audit.record("invite_created", None, invite=record.id, groups=" ".join(names))
        return token, record

    async def all(self) -> list[InviteRecord]:
        return await self.store.list()

    async def revoke(self, invite_id: str) -> None:
        if not await self.store.revoke(invite_id, self.clock()):
            raise NotFound(N_("No open invite with id %(id)r."), id=invite_id)

    async def check(self, token: str) -> InviteRecord:
        """The invite if it can still be used; `InviteInvalid` otherwise."""
        found = await self.store.get(invite_hash(token)) if 0 < len(token) <= TOKEN_MAX else None
        if found is None or not usable(found[0], self.clock()):
            raise InviteInvalid()
        return found[0]

    def email_problems(self, invite: InviteRecord, address: str | None) -> list[Problem]:
        if invite.email is None or (address and email_canon(address) == email_canon(invite.email)):
            return []
        return [
            Problem(
                "invite_email",
                "email",
                N_("This invite is for %(email)s: use that address."),
                {"email": invite.email},
            )
        ]

    async def create_user(self, token: str, user: NewUser) -> UserRecord:
        """Use the invite and create the account with its groups, in one transaction."""
        created = await self.store.create_user(invite_hash(token), user, self.clock())
        if created is None:
            raise InviteInvalid()  # used up, revoked or expired since `check`
        return created


def usable(invite: InviteRecord, now: float) -> bool:
    return invite.revoked_at is None and invite.uses < invite.max_uses and now < invite.expires_at


def state(invite: InviteRecord, now: float) -> str:
    if invite.revoked_at is not None:
        return "revoked"
    if invite.uses >= invite.max_uses:
        return "used"
    return "expired" if now >= invite.expires_at else "open"
