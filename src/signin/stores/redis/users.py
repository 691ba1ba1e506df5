"""What a session check needs to know about a user, kept in Redis beside the sessions.

SPEC section 11: on PostgreSQL + Redis the user a session belongs to is not fetched from
PostgreSQL on every check. The check's one Redis script (stores/redis/sessions.py) reads the
session and these *facts* together; only when the facts are missing does it read the user from
SQL and put them back (`UserFacts.fill`).

Keys (under the store prefix):
- `user-facts:<user id>` — a hash: username, email, email_verified, disabled, groups.
  `facts_of` says what goes in and `session_user` how it comes out: the one place to add a
  field that the check returns (forward-auth's headers, the API's session answer). It lives
  `FACTS_SECONDS`.
- `user-generation:<user id>` — a counter bumped by every write to the user.

Staying correct on every instance: every write to a user goes through `InvalidatingUserStore`,
which deletes the facts and bumps the generation before the SQL write and again after it, so
the next check on any instance reads the user afresh. A check that read the user from SQL just
before a write must not put the old facts back after the write's bump: `fill` writes only if
the generation is still the one the check saw before it read SQL. Bumping before the write too
means a write that cannot reach Redis fails before it changes anything (StoreUnavailable).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from signin.stores.base import NewUser, SessionRecord, SessionUser, UserRecord, UserStore
from signin.stores.redis.mux import Multiplexer

T = TypeVar("T")
FACTS_SECONDS = 3600  # an idle user's facts leave memory after an hour; a miss costs one read
GENERATION_SECONDS = 86_400  # outlives any check's SQL read by far; then counts from nothing

# KEYS[1] facts, KEYS[2] generation; ARGV[1] the generation's TTL.
INVALIDATE = """
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""

# KEYS[1] facts, KEYS[2] generation; ARGV[1] the generation seen before SQL was read ('' for
# none), ARGV[2] the facts' TTL, ARGV[3..] field, value pairs.
FILL = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def facts_of(user: UserRecord) -> dict[str, str]:
    """The facts kept for a session check (every value text; a missing email is left out;
    groups comma-joined, as group names never hold a comma)."""
    facts = {
        "username": user.username,
        "email_verified": "1" if user.email_verified else "0",
        "disabled": "1" if user.disabled else "0",
        "groups": ",".join(user.groups),
    }
    if user.email is not None:
        facts["email"] = user.email
    return facts


def session_user(session: SessionRecord, facts: dict[str, str]) -> SessionUser:
    groups = facts.get("groups")
    return SessionUser(
        session=session,
        username=facts["username"],
        email=facts.get("email"),
        email_verified=facts.get("email_verified") == "1",
        disabled=facts.get("disabled") == "1",
        groups=tuple(groups.split(",")) if groups else (),
    )


class UserFacts:
    """The facts' keys, and the two scripts that end and refill them."""

    def __init__(self, mux: Multiplexer, *, prefix: str) -> None:
        self.facts_prefix = prefix + "user-facts:"
        self.generation_prefix = prefix + "user-generation:"
        self._invalidate = mux.script(INVALIDATE)
        self._fill = mux.script(FILL)

    def _keys(self, user_id: int) -> list[str | bytes | int | float]:
        return [f"{self.facts_prefix}{user_id}", f"{self.generation_prefix}{user_id}"]

    async def invalidate(self, user_id: int) -> None:
        await self._invalidate(self._keys(user_id), [GENERATION_SECONDS])

    async def changing(self, user_id: int, write: Callable[[], Awaitable[T]]) -> T:
        """Run `write` (a change to what a check returns about the user) between two ends of
        the user's facts. Every such write goes through here: `InvalidatingUserStore` for the
        user store; a store of other per-user data that a check returns (groups, say) calls
        it the same way (`RedisStores.facts`)."""
        await self.invalidate(user_id)
        result = await write()
        await self.invalidate(user_id)
        return result

    async def fill(self, user: UserRecord, *, generation: str) -> None:
        """Keep `user`'s facts, unless the user was written since `generation` was read."""
        pairs = [item for pair in facts_of(user).items() for item in pair]
        await self._fill(self._keys(user.id), [generation, FACTS_SECONDS, *pairs])


class InvalidatingUserStore:
    """A `UserStore` whose every write to a user ends that user's facts on every instance.

    Reads go straight to the SQL store. A new method on `UserStore` must be added here too
    (mypy says so where this is used as a `UserStore`); a write must go through `_write`.
    """

    def __init__(self, inner: UserStore, facts: UserFacts) -> None:
        self.inner = inner
        self.facts = facts

    async def _write(self, user_id: int, write: Callable[[], Awaitable[T]]) -> T:
        return await self.facts.changing(user_id, write)

    async def create(self, user: NewUser) -> UserRecord:
        # A new id has no facts yet (ids are not reused while facts live); sign-up keeps
        # working while Redis is down, as accounts live in SQL.
        return await self.inner.create(user)

    async def by_id(self, user_id: int) -> UserRecord | None:
        return await self.inner.by_id(user_id)

    async def by_canon(self, username_canon: str) -> UserRecord | None:
        return await self.inner.by_canon(username_canon)

    async def by_email(self, email_canon: str) -> UserRecord | None:
        return await self.inner.by_email(email_canon)

    async def skeleton_taken(self, username_skeleton: str) -> bool:
        return await self.inner.skeleton_taken(username_skeleton)

    async def set_password_hash(
        self, user_id: int, password_hash: str, changed_at: float, *, rehash_only: bool = False
    ) -> None:
        if rehash_only:  # the same password, stored at a new cost: nothing a check reads
            await self.inner.set_password_hash(user_id, password_hash, changed_at, rehash_only=True)
            return
        await self._write(
            user_id, lambda: self.inner.set_password_hash(user_id, password_hash, changed_at)
        )

    async def set_disabled(self, user_id: int, disabled: bool) -> None:
        await self._write(user_id, lambda: self.inner.set_disabled(user_id, disabled))

    async def set_language(self, user_id: int, language: str) -> None:
        # Not among a session check's facts: no invalidation needed.
        await self.inner.set_language(user_id, language)

    async def set_email_verified(self, user_id: int, email: str, now: float) -> bool:
        return await self._write(
            user_id, lambda: self.inner.set_email_verified(user_id, email, now)
        )

    async def delete(self, user_id: int) -> bool:
        return await self._write(user_id, lambda: self.inner.delete(user_id))

    async def search(self, text: str, limit: int = 100) -> list[UserRecord]:
        return await self.inner.search(text, limit)

    async def list(self, limit: int = 1000, offset: int = 0) -> list[UserRecord]:
        return await self.inner.list(limit, offset)

    async def change_groups(
        self, user_id: int, add: Sequence[str], remove: Sequence[str]
    ) -> tuple[str, ...]:
        return await self._write(user_id, lambda: self.inner.change_groups(user_id, add, remove))
