"""What the admin pages do (SPEC section 15), each action audited with the administrator's name.

Who may administer is decided here too (`may_administer`): members of the group `admins`,
with a session made with a second factor unless `SIGNIN_ADMIN_REQUIRE_2FA=false`. The routes
answer 404 to anyone else, so the pages do not admit they exist.

The administrator's name reaches the audit log through `ORIGIN` (`acting`): the user, lock and
session services record their usual events, with `by` set to the administrator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from signin.accounts.access.groups import Groups
from signin.accounts.addresses import email_canon
from signin.accounts.audit import ORIGIN, AuditEvent, AuditLog, AuditQuery, Origin
from signin.accounts.clock import Clock
from signin.accounts.errors import InvalidInput, NotFound, Problem
from signin.accounts.factors.manager import TwoFactor
from signin.accounts.lockout import LockInfo, Lockout, parse_key
from signin.accounts.reset import PasswordResets
from signin.accounts.sessions import SessionManager
from signin.accounts.signup import Registration
from signin.accounts.usernames import canon
from signin.i18n import N_
from signin.stores.base import SessionRecord, SessionStore, SessionUser, UserRecord, UserStore

ADMINS = "admins"
CHART_TYPES = ("sign_in", "sign_in_failed", "sign_in_locked")
CHART_HOURS = 7 * 24
SHOWN = 200


@dataclass(frozen=True)
class SessionRow:
    record: SessionRecord
    username: str


@dataclass(frozen=True)
class Hourly:
    """Events per hour over the chart's week, oldest hour first, one list per event type."""

    first_hour: int  # epoch // 3600
    counts: dict[str, list[int]]


def may_administer(found: SessionUser, require_two_factor: bool) -> bool:
    """A member of `admins`, in a session made with a second factor (unless not required)."""
    return ADMINS in found.groups and (found.session.two_factor or not require_two_factor)


@contextmanager
def acting(name: str) -> Iterator[None]:
    """Record what happens inside as done by administrator `name` (same address and browser)."""
    here = ORIGIN.get().origin()
    token = ORIGIN.set(Origin(ip=here.ip, user_agent=here.user_agent, actor=name))
    try:
        yield
    finally:
        ORIGIN.reset(token)


class Administration:
    def __init__(
        self,
        users: UserStore,
        registration: Registration,
        resets: PasswordResets,
        lockout: Lockout,
        sessions: SessionManager,
        session_store: SessionStore,
        audit: AuditLog,
        groups: Groups,
        two_factor: TwoFactor,
        *,
        clock: Clock,
    ) -> None:
        self.users = users
        self.registration = registration
        self.resets = resets
        self.lockout = lockout
        self.sessions = sessions
        self.session_store = session_store
        self.audit = audit
        self.groups = groups
        self.two_factor = two_factor
        self.clock = clock

    # -- users -----------------------------------------------------------------------------

    async def find_users(self, text: str) -> list[UserRecord]:
        text = text.strip()
        if not text:
            return await self.users.list(limit=SHOWN)
        needle = email_canon(text) if "@" in text else canon(text)
        return await self.users.search(needle[:320], limit=SHOWN)

    async def user(self, username: str) -> UserRecord:
        return await self.registration.find(username)

    async def set_disabled(self, admin: str, username: str, disabled: bool) -> UserRecord:
        if disabled and canon(username) == admin:
            raise InvalidInput(
                [
                    Problem(
                        "own_account", "username", N_("You cannot disable your own account here.")
                    )
                ]
            )
        with acting(admin):
            return await self.registration.set_disabled(username, disabled)

    async def delete(self, admin: str, username: str) -> UserRecord:
        if canon(username) == admin:
            raise InvalidInput(
                [Problem("own_account", "username", N_("You cannot delete your own account here."))]
            )
        with acting(admin):
            return await self.registration.delete(username)

    async def reset_link(self, admin: str, username: str) -> str:
        """A one-time reset token to hand over (no mail is sent); audited."""
        token = await self.resets.link_for(username)
        with acting(admin):
            self.audit.record("password_reset_requested", canon(username), link=True)
        return token

    async def set_groups(self, admin: str, username: str, text: str) -> tuple[str, ...]:
        """Make the user's groups exactly the names in `text` (space or comma separated)."""
        user = await self.user(username)
        wanted = set(text.replace(",", " ").split())
        if user.username_canon == admin and ADMINS not in wanted:
            raise InvalidInput(
                [Problem("own_admin", "groups", N_("You cannot leave the admins group here."))]
            )
        current = set(user.groups)
        after = await self.groups.change(
            user.username, add=sorted(wanted - current), remove=sorted(current - wanted)
        )
        with acting(admin):
            self.audit.record("groups_changed", user.username_canon, groups=" ".join(after))
        return after

    async def remove_second_factor(self, admin: str, username: str) -> None:
        with acting(admin):  # the factor service records two_factor_disabled, by the admin
            await self.two_factor.reset_by_name(username)

    # -- locks -----------------------------------------------------------------------------

    async def locks(self) -> list[LockInfo]:
        return await self.lockout.locks()

    async def clear_lock(self, admin: str, key: str) -> bool:
        try:
            stored = parse_key(key)
        except ValueError as exc:
            raise InvalidInput(
                [Problem("bad_key", "key", N_("Not a lock key: %(reason)s"), {"reason": str(exc)})]
            ) from None
        with acting(admin):
            return await self.lockout.lift(stored)

    # -- sessions --------------------------------------------------------------------------

    async def sessions_list(self, username: str = "") -> list[SessionRow]:
        now = self.clock()
        if username.strip():
            user = await self.user(username)
            records = await self.sessions.list_for_user(user.id)
            return [SessionRow(record, user.username) for record in records[:SHOWN]]
        live = [
            record
            for record in await self.session_store.list_all()
            if now < record.expires_at
            and (record.idle_seconds is None or now < record.last_seen + record.idle_seconds)
        ][:SHOWN]
        names: dict[int, str] = {}
        for user_id in {record.user_id for record in live}:
            found = await self.users.by_id(user_id)
            names[user_id] = found.username if found is not None else "?"
        return [SessionRow(record, names[record.user_id]) for record in live]

    async def end_session(self, admin: str, username: str, session_id: str) -> None:
        user = await self.user(username)
        if not await self.sessions.end_by_id(user.id, session_id):
            raise NotFound(N_("That session has ended already."))
        with acting(admin):
            self.audit.record("session_ended", user.username_canon, session=session_id)

    # -- audit -----------------------------------------------------------------------------

    async def events(
        self, username: str, types: tuple[str, ...], since: float | None
    ) -> list[AuditEvent]:
        query = AuditQuery(
            username=canon(username.strip())[:128] if username.strip() else None,
            types=types,
            since=since,
            limit=SHOWN,
        )
        return await self.audit.query(query)

    async def hourly(self) -> Hourly:
        """Sign-ins, failures and locked attempts per hour over the last 7 days."""
        last = int(self.clock() // 3600)
        first = last - CHART_HOURS + 1
        found = await self.audit.hourly(CHART_TYPES, first * 3600.0)
        counts = {
            kind: [found.get((kind, hour), 0) for hour in range(first, last + 1)]
            for kind in CHART_TYPES
        }
        return Hourly(first, counts)
