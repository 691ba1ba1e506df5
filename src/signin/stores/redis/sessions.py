"""Sessions in Redis: a hash per session, keyed by the hex SHA-256 of its token, with a TTL.

Keys (under the store prefix):
- `session:<sha256 hex>` — the session record; its TTL is the time the session has left (the
  absolute expiry, or the idle limit when that comes first), renewed by `touch`.
- `user-sessions:<user id>` — the set of a user's session hashes, to list or end them all. It
  lives as long as the user's longest session; members whose session expired are dropped
  whenever the set is read.

The account itself lives in SQL. What a check needs of it (name, email, disabled...) is kept in
Redis as the user's facts (stores/redis/users.py), which every write to the user ends: `lookup`
is one script on the multiplexed connection (stores/redis/mux.py) that returns the session and
its user's facts together, and reads SQL only when the facts are missing. So a check costs one
Redis round trip, and a disabled or deleted account still stops at once on every instance.
Several keys change in one Lua script where a half-done change would leave a live session behind.
TTLs are computed from the differences of the caller's times, never from Redis' clock, so a
session lives as long here as the SessionManager (and its clock) says.
"""

from __future__ import annotations

import math
from typing import Any

from signin.stores.base import SessionRecord, SessionUser, UserStore
from signin.stores.redis.common import RedisStore, as_float, as_text, unavailable_on_error
from signin.stores.redis.mux import Multiplexer
from signin.stores.redis.users import UserFacts, facts_of, session_user

# KEYS[1] session hash, KEYS[2] user set; ARGV[1] TTL, ARGV[2] set member, ARGV[3..] fields.
CREATE = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[1]) then
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return 1
"""

# KEYS[1] session hash; ARGV[1] facts prefix, ARGV[2] generation prefix. Returns nil (no such
# session), {session, facts}, or, when the user's facts are missing, {session, {}, generation}:
# the caller reads the user from SQL and fills the facts unless the generation moved meanwhile.
LOOKUP = """
local session = redis.call('HGETALL', KEYS[1])
if #session == 0 then return false end
local uid = redis.call('HGET', KEYS[1], 'user_id')
local facts = redis.call('HGETALL', ARGV[1] .. uid)
if #facts > 0 then return {session, facts} end
return {session, facts, redis.call('GET', ARGV[2] .. uid) or ''}
"""

# KEYS[1] session hash; ARGV[1] now. The TTL becomes the time left after this use.
TOUCH = """
local f = redis.call('HMGET', KEYS[1], 'expires_at', 'idle_seconds')
if not f[1] then return 0 end
local left = tonumber(f[1]) - tonumber(ARGV[1])
if f[2] then left = math.min(left, tonumber(f[2])) end
redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil(left)))
return 1
"""

# KEYS[1] session hash; ARGV[1] user-set prefix, ARGV[2] set member.
DELETE = """
local uid = redis.call('HGET', KEYS[1], 'user_id')
redis.call('DEL', KEYS[1])
if uid then redis.call('SREM', ARGV[1] .. uid, ARGV[2]) end
return 0
"""

# KEYS[1] user set; ARGV[1] session-hash prefix, ARGV[2] mode: 'only' ends the session whose id
# is ARGV[3], 'keep' ends every session but that one, 'all' ends every session.
END_SESSIONS = """
local ended = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. member
  local id = redis.call('HGET', key, 'id')
  if not id then
    redis.call('SREM', KEYS[1], member)
  elseif (ARGV[2] == 'all') or (ARGV[2] == 'keep' and id ~= ARGV[3])
      or (ARGV[2] == 'only' and id == ARGV[3]) then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], member)
    ended = ended + 1
  end
end
return ended
"""

# KEYS[1] user set; ARGV[1] session-hash prefix. Every live session's fields; drops stale members.
LIST_FOR_USER = """
local found = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fields = redis.call('HGETALL', ARGV[1] .. member)
  if #fields == 0 then
    redis.call('SREM', KEYS[1], member)
  else
    table.insert(found, fields)
  end
end
return found
"""


def _fields(record: SessionRecord) -> list[str]:
    fields = {
        "id": record.id,
        "user_id": str(record.user_id),
        "created_at": as_text(record.created_at),
        "last_seen": as_text(record.last_seen),
        "expires_at": as_text(record.expires_at),
        "remember": "1" if record.remember else "0",
        "two_factor": "1" if record.two_factor else "0",
    }
    optional = {
        "idle_seconds": record.idle_seconds,
        "ip": record.ip,
        "user_agent": record.user_agent,
    }
    fields.update({name: str(value) for name, value in optional.items() if value is not None})
    return [item for pair in fields.items() for item in pair]


def _record(fields: dict[str, str]) -> SessionRecord:
    idle = fields.get("idle_seconds")
    return SessionRecord(
        id=fields["id"],
        user_id=int(fields["user_id"]),
        created_at=as_float(fields["created_at"]),
        last_seen=as_float(fields["last_seen"]),
        expires_at=as_float(fields["expires_at"]),
        idle_seconds=int(idle) if idle else None,
        remember=fields.get("remember") == "1",
        ip=fields.get("ip"),
        user_agent=fields.get("user_agent"),
        two_factor=fields.get("two_factor") == "1",
    )


def _pairs(flat: list[Any]) -> dict[str, str]:
    """A flat [name, value, ...] reply as a dict (replies arrive decoded as text)."""
    items = iter(flat)
    return dict(zip(items, items, strict=False))


def _ttl(record: SessionRecord) -> int:
    left = record.expires_at - record.last_seen
    if record.idle_seconds is not None:
        left = min(left, record.idle_seconds)
    return max(1, math.ceil(left))


class RedisSessionStore(RedisStore):
    def __init__(
        self, *args: Any, users: UserStore, mux: Multiplexer, facts: UserFacts, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.users = users
        self.facts = facts
        self._lookup = mux.script(LOOKUP)
        self._lookup_args = [facts.facts_prefix, facts.generation_prefix]
        self.session_prefix = self.prefix + "session:"
        self.user_prefix = self.prefix + "user-sessions:"
        # A sign-in, a sign-out and a check that renews last_seen run these: on the
        # multiplexed connection too; the listings and mass ends stay on redis-py's pool.
        self._create = mux.script(CREATE)
        self._touch = mux.script(TOUCH)
        self._delete = mux.script(DELETE)
        self._end = self.client.register_script(END_SESSIONS)
        self._list_for_user = self.client.register_script(LIST_FOR_USER)

    def _key(self, token_hash: bytes) -> str:
        return self.session_prefix + token_hash.hex()

    def _user_key(self, user_id: int) -> str:
        return f"{self.user_prefix}{user_id}"

    async def create(self, token_hash: bytes, record: SessionRecord) -> None:
        keys = [self._key(token_hash), self._user_key(record.user_id)]
        with unavailable_on_error():
            await self._create(keys=keys, args=[_ttl(record), token_hash.hex(), *_fields(record)])

    async def lookup(self, token_hash: bytes) -> SessionUser | None:
        reply = await self._lookup([self._key(token_hash)], self._lookup_args)
        if reply is None:
            return None
        session = _record(_pairs(reply[0]))
        if reply[1]:
            return session_user(session, _pairs(reply[1]))
        # The facts are missing (first check since the user was written, or an hour idle).
        user = await self.users.by_id(session.user_id)
        if user is None:
            # The account is gone; its sessions go with it, as the SQL cascade does.
            await self.delete(token_hash)
            return None
        await self.facts.fill(user, generation=reply[2])
        return session_user(session, facts_of(user))

    async def touch(self, token_hash: bytes, now: float) -> None:
        with unavailable_on_error():
            await self._touch(keys=[self._key(token_hash)], args=[as_text(now)])

    async def delete(self, token_hash: bytes) -> None:
        with unavailable_on_error():
            await self._delete(
                keys=[self._key(token_hash)], args=[self.user_prefix, token_hash.hex()]
            )

    async def delete_by_id(self, user_id: int, session_id: str) -> bool:
        return await self._end_sessions(user_id, "only", session_id) > 0

    async def delete_for_user(self, user_id: int, *, keep_id: str | None = None) -> int:
        if keep_id is None:
            return await self._end_sessions(user_id, "all", "")
        return await self._end_sessions(user_id, "keep", keep_id)

    async def _end_sessions(self, user_id: int, mode: str, session_id: str) -> int:
        with unavailable_on_error():
            ended = await self._end(
                keys=[self._user_key(user_id)], args=[self.session_prefix, mode, session_id]
            )
        return int(ended)

    async def list_for_user(self, user_id: int) -> list[SessionRecord]:
        with unavailable_on_error():
            rows = await self._list_for_user(
                keys=[self._user_key(user_id)], args=[self.session_prefix]
            )
        records = [_record(_pairs(row)) for row in rows]
        return sorted(records, key=lambda record: record.created_at, reverse=True)

    async def list_all(self) -> list[SessionRecord]:
        records: list[SessionRecord] = []
        with unavailable_on_error():
            keys = [key async for key in self.scan_keys(self.session_prefix)]
            for start in range(0, len(keys), 200):
                async with self.client.pipeline(transaction=False) as pipe:
                    for key in keys[start : start + 200]:
                        pipe.hgetall(key)
                    rows = await pipe.execute()
                records += [_record(fields) for fields in rows if fields]
        return sorted(records, key=lambda record: record.created_at, reverse=True)

    async def purge_expired(self, now: float) -> int:
        """Nothing to do: every session key expires by its TTL."""
        return 0
