"""Sessions in Redis: a hash per session, keyed by the hex SHA-256 of its token, with a TTL.

Keys (under the store prefix):
- `session:<sha256 hex>` — the session record; its TTL is the time the session has left (the
  absolute expiry, or the idle limit when that comes first), renewed by `touch`.
- `user-sessions:<user id>` — the set of a user's session hashes, to list or end them all. It
  lives as long as the user's longest session; members whose session expired are dropped
  whenever the set is read.

The account itself stays in SQL: `lookup` reads the user by id (a primary-key lookup) on every
request rather than caching it, so a disabled or deleted account stops at once on every instance.
Several keys change in one Lua script where a half-done change would leave a live session behind.
TTLs are computed from the differences of the caller's times, never from Redis' clock, so a
session lives as long here as the SessionManager (and its clock) says.
"""

from __future__ import annotations

import math
from typing import Any

from signin.stores.base import SessionRecord, SessionUser, UserStore
from signin.stores.redis.common import RedisStore, as_float, as_text, unavailable_on_error

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
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _ttl(record: SessionRecord) -> int:
    left = record.expires_at - record.last_seen
    if record.idle_seconds is not None:
        left = min(left, record.idle_seconds)
    return max(1, math.ceil(left))


class RedisSessionStore(RedisStore):
    def __init__(self, *args: Any, users: UserStore, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.users = users
        self.session_prefix = self.prefix + "session:"
        self.user_prefix = self.prefix + "user-sessions:"
        self._create = self.client.register_script(CREATE)
        self._touch = self.client.register_script(TOUCH)
        self._delete = self.client.register_script(DELETE)
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
        with unavailable_on_error():
            reply = await self.client.hgetall(self._key(token_hash))
        if not reply:
            return None
        session = _record({str(name): str(value) for name, value in reply.items()})
        user = await self.users.by_id(session.user_id)
        if user is None:
            # The account is gone; its sessions go with it, as the SQL cascade does.
            await self.delete(token_hash)
            return None
        return SessionUser(
            session=session,
            username=user.username,
            email=user.email,
            email_verified=user.email_verified,
            disabled=user.disabled,
            groups=user.groups,  # read with the user, never cached: changes count at once
        )

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
