"""The fail-lock policy (SPEC section 5); docs/fail-lock.md has the algorithm and its trade-offs.

Every sign-in attempt is counted *before* its password is checked, by one atomic reservation of
its keys (the client IP's key first, then the username's canonical form) in one store write.
An attempt whose count passes a limit is refused without hashing and still counts, so a lock
runs from the last attempt. A success clears the username's key and takes back only its own
count on the IP key (again one write): successes never lock an IP, yet an attacker cannot reset
an IP's count by signing in to an account of his own between guesses.

Stored keys: a username key is `canon(name)`, which is case-folded and so never holds an
upper-case letter; IP keys are stored as `IP:ADDRESS` (and other counters in the same store,
accounts/throttle.py, use upper-case prefixes too). So no typed username, not even
`ip:192.0.2.1`, can bump or clear an IP's count. People see and type IP keys as `ip:ADDRESS`.

A trusted attempt (SPEC 5a: a valid device proof for the username, accounts/devices.py) reserves
its IP key without a limit and its proof's key `DEVICE:<canon>:<nonce>` with the username limit,
again in one write: neither the username's lock nor the IP's refuses it. Only when its proof is
locked is it handled as untrusted, which costs a second write.
"""

from __future__ import annotations

import ipaddress
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from signin.accounts.audit import NO_AUDIT, Recorder
from signin.accounts.clock import Clock
from signin.accounts.devices import (
    DEVICE_SHOWN,
    DEVICE_STORED,
    parse_device_key,
    shown_device_key,
)
from signin.accounts.errors import AccountLocked
from signin.accounts.usernames import canon
from signin.stores.base import LockRecord, LockStore

IP_STORED = "IP:"  # in the store
IP_SHOWN = "ip:"  # on the command line and in `signin locks list`
PURGE_EVERY = 60.0
IPV6_PREFIX = 64  # one subscriber's network: its owner picks any of 2**64 addresses at will
NO_LIMIT = sys.maxsize  # a trusted attempt counts on its IP but is never refused for it


def ip_key(address: str) -> str:
    """The stored lock key of a client address (IPv6: its /64 network; mapped IPv4 unwrapped)."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        # Only test transports hand over a non-address peer; key it as given.
        return IP_STORED + text
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return IP_STORED + str(ip.ipv4_mapped)
        return IP_STORED + str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return IP_STORED + str(ip)


def parse_key(text: str) -> str:
    """The stored key for what a person typed: `ip:ADDRESS` (or `ip:NET/64`),
    `device:USERNAME:ID`, else a username.

    Raises `ValueError` with a one-line reason for an `ip:` key that is no address.
    """
    if text.strip().casefold().startswith(DEVICE_SHOWN):
        return parse_device_key(text)
    if text.strip().casefold().startswith(IP_SHOWN):
        address = text.strip()[len(IP_SHOWN) :].strip()
        try:
            network = ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise ValueError(f"not an IP address: {address!r}") from None
        if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= IPV6_PREFIX:
            return ip_key(str(network.network_address))
        if network.num_addresses == 1:
            return ip_key(str(network.network_address))
        raise ValueError(f"not an IP address: {address!r}")
    key = canon(text.strip())
    if not key:
        raise ValueError("empty key")
    return key


def shown_key(key: str) -> str:
    if key.startswith(DEVICE_STORED):
        return shown_device_key(key)
    return IP_SHOWN + key[len(IP_STORED) :] if key.startswith(IP_STORED) else key


def is_lock_key(key: str) -> bool:
    """True for username, IP and device keys; False for other counters in the same store."""
    return key.startswith((IP_STORED, DEVICE_STORED)) or key.casefold() == key


@dataclass(frozen=True)
class Attempt:
    """One reserved attempt: what to release or clear once the password was checked."""

    user_key: str  # the username key (untrusted) or the device proof's key (trusted)
    ip_key: str | None
    trusted: bool = False
    count: int = 0  # the failures on `user_key` including this attempt

    @property
    def ip_keys(self) -> tuple[str, ...]:
        """The IP key if any: listed before the other key, the order they were reserved in
        (`LockStore.settle` says why the order matters)."""
        return (self.ip_key,) if self.ip_key is not None else ()


@dataclass(frozen=True)
class LockInfo:
    key: str  # as shown: a canonical username, `ip:ADDRESS` or `device:USERNAME:ID`
    failures: int
    locked: bool
    seconds_left: int  # until the key is forgotten (for a locked key: until it unlocks)


class Lockout:
    def __init__(
        self,
        store: LockStore,
        *,
        max_failures: int,
        ip_max_failures: int,
        lock_seconds: int,
        clock: Clock,
        audit: Recorder = NO_AUDIT,
    ) -> None:
        self.store = store
        self.max_failures = max_failures
        self.ip_max_failures = ip_max_failures
        self.lock_seconds = lock_seconds
        self.clock = clock
        self.audit = audit
        # Short windows (tests, small sites) get their dead rows reclaimed as often as they expire.
        self.purge_every = min(PURGE_EVERY, float(lock_seconds))
        self._next_purge = 0.0

    async def reserve(
        self, username_canon: str, ip: str | None, device_key: str | None = None
    ) -> Attempt:
        """Count one attempt; raise `AccountLocked` when it is refused.

        Untrusted (no `device_key`): the IP goes first, so an attempt refused for its IP does
        not extend the username's lock and one locked-out address cannot keep a victim's
        account locked by itself; `reserve_all` stops after the IP when the IP is locked.
        Trusted (`device_key`, accounts/devices.py): the IP is counted without a limit, then
        the proof's key with the username limit. A locked proof makes the attempt untrusted:
        the IP's count just made decides, then the username's lock (a second write).
        Either way the first decision is one write to the store.
        """
        now = self.clock()
        await self._maybe_purge(now)
        address = ip_key(ip) if ip else None
        if device_key is not None:
            counts = await self._count(now, address, NO_LIMIT, device_key)
            if counts[-1] <= self.max_failures:
                return Attempt(device_key, address, trusted=True, count=counts[-1])
            # This proof is locked: from here on the attempt is untrusted.
            ip_locked = address is not None and counts[0] > self.ip_max_failures
            if not ip_locked:
                counts = await self._count(now, None, 0, username_canon)
        else:
            counts = await self._count(now, address, self.ip_max_failures, username_canon)
            ip_locked = address is not None and len(counts) == 1  # `reserve_all` stopped there
        if ip_locked or counts[-1] > self.max_failures:
            # Same message, same wait, for every username, known or not, and every password.
            raise AccountLocked(self.lock_seconds)
        return Attempt(username_canon, address, count=counts[-1])

    async def _count(
        self, now: float, address: str | None, address_limit: int, key: str
    ) -> list[int]:
        keys = [(key, self.max_failures)]
        if address is not None:
            keys.insert(0, (address, address_limit))
        return await self.store.reserve_all(keys, now, self.lock_seconds)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget the failures of the username (untrusted) or of the
        proof (trusted: the untrusted lock runs on), take back the IP's count."""
        await self.store.settle(release=attempt.ip_keys, clear=(attempt.user_key,))

    async def abandoned(self, attempt: Attempt) -> None:
        """The password was never checked (hasher busy): the attempt does not count."""
        await self.store.settle(release=(*attempt.ip_keys, attempt.user_key))

    async def clear(self, username_canon: str) -> bool:
        """Lift a username's lock (a completed password reset, `signin locks clear`)."""
        return await self.store.clear(username_canon)

    async def clear_ip(self, address: str) -> bool:
        return await self.store.clear(ip_key(address))

    async def lift(self, stored: str) -> bool:
        """Lift a lock for an administrator (`signin locks clear`, the admin pages); audited."""
        cleared = await self.store.clear(stored)
        if cleared:
            name = None if stored.startswith(IP_STORED) else stored
            self.audit.record("lock_cleared", name, key=shown_key(stored))
        return cleared

    async def clear_key(self, typed: str) -> bool:
        """Lift the lock named as in `signin locks clear KEY`; False when there was none."""
        return await self.store.clear(parse_key(typed))

    async def locks(self, *, locked_only: bool = False) -> list[LockInfo]:
        """Live username, IP and device keys, the most recent attempt first."""
        now = self.clock()
        return lock_infos(
            await self.store.list(now, self.lock_seconds),
            now,
            max_failures=self.max_failures,
            ip_max_failures=self.ip_max_failures,
            lock_seconds=self.lock_seconds,
            locked_only=locked_only,
        )

    def starts_lock(self, attempt: Attempt) -> bool:
        """True for the failed untrusted attempt that locks its username (SPEC 5a: mail)."""
        return not attempt.trusted and attempt.count == self.max_failures

    async def _maybe_purge(self, now: float) -> None:
        # Expired keys already count as forgotten (the reservation starts them again from 1);
        # this only reclaims their rows, piggybacked on sign-in traffic so no cron is needed.
        if now >= self._next_purge:
            self._next_purge = now + self.purge_every
            await self.store.purge(now, self.lock_seconds)


def lock_infos(
    records: Sequence[LockRecord],
    now: float,
    *,
    max_failures: int,
    ip_max_failures: int,
    lock_seconds: int,
    locked_only: bool = False,
) -> list[LockInfo]:
    """The lock keys among `records` as `signin locks list` shows them (also for records read
    without the store: cli/locks.py on SQLite)."""
    infos = []
    for record in records:
        if not is_lock_key(record.key):
            continue
        limit = ip_max_failures if record.key.startswith(IP_STORED) else max_failures
        left = max(0, math.ceil(record.last_attempt + lock_seconds - now))
        locked = record.failures >= limit
        if locked or not locked_only:
            infos.append(LockInfo(shown_key(record.key), record.failures, locked, left))
    return infos
