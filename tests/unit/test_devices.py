"""Trusted devices (SPEC section 5a): the decision table on a real SQLite file, a frozen clock and
a hasher that counts every password verification (real and dummy)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from signin.accounts.clock import FrozenClock
from signin.accounts.devices import Devices, device_key, split
from signin.accounts.errors import AccountLocked, InvalidCredentials
from signin.accounts.lockout import ip_key, parse_key, shown_key
from signin.accounts.tokens import TokenUsed
from signin.crypto.keys import KeyRing
from signin.crypto.signing import CsrfSigner, DeviceSigner
from signin.services import Services, build_services
from tests.support import make_settings, migrated
from tests.unit.test_lockout import CountingHasher

PASSWORD = "Lattice-Quarry-Ember-58"
WRONG = "not-the-password-at-all"
IP = "192.0.2.10"
LOCK = 600
DEVICE_SECONDS = 86400
SECRET = "s" * 40


class World:
    def __init__(self, services: Services, clock: FrozenClock, hasher: CountingHasher) -> None:
        self.services, self.clock, self.hasher = services, clock, hasher

    def proof(self, username: str) -> str:
        """A proof as a successful sign-in of `username` would give it."""
        return self.services.devices.grant(username.casefold()).token

    async def sign_in(
        self, name: str, password: str, proofs: Sequence[str] = (), ip: str | None = IP
    ) -> str:
        """'ok', 'invalid' or 'locked'."""
        try:
            await self.services.authenticator.sign_in(name, password, ip, proofs)
        except InvalidCredentials:
            return "invalid"
        except AccountLocked as exc:
            locked = exc
        else:
            return "ok"
        assert locked.retry_after == LOCK
        return "locked"

    async def failures(self, key: str) -> int | None:
        record = await self.services.lock_store.get(key, self.clock(), 10**9)
        return None if record is None else record.failures

    def outbox(self) -> list[Path]:
        """The lock mails written to the outbox (the sign-up's verification mail left out)."""
        box = self.services.settings.data_dir / "outbox"
        found = sorted(box.glob("*.eml")) if box.exists() else []
        return [path for path in found if "/unlock?token=" in path.read_text()]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = make_settings(
        tmp_path / "data", lock_seconds=LOCK, device_seconds=DEVICE_SECONDS, secret_key=SECRET
    )
    clock = FrozenClock()
    hasher = CountingHasher()
    services = build_services(settings, clock=clock, hasher=hasher)
    await migrated(settings.sqlalchemy_url)
    await services.registration.sign_up("Alice", PASSWORD)
    await services.registration.sign_up("Bob", PASSWORD)
    carol = await services.registration.sign_up("Carol", PASSWORD, "carol@example.org")
    await services.users.set_email_verified(carol.id, "carol@example.org", clock())
    hasher.verifies = hasher.dummies = 0
    try:
        yield World(services, clock, hasher)
    finally:
        await services.close()


async def lock_out(world: World, name: str) -> None:
    """A stranger (no proof, many addresses) locks `name` for untrusted clients."""
    for n in range(3):
        assert await world.sign_in(name, WRONG, ip=f"198.51.100.{n}") == "invalid"
    assert await world.sign_in(name, PASSWORD, ip="198.51.100.99") == "locked"


# -- the proof -------------------------------------------------------------------------------


def test_a_proof_names_its_account_and_nothing_else_passes() -> None:
    clock = FrozenClock()
    devices = Devices(DeviceSigner(KeyRing(SECRET), DEVICE_SECONDS, clock))
    proof = devices.grant("alice").token
    key = devices.trusted_key("alice", [proof])
    assert key is not None
    assert key.startswith("DEVICE:alice:")
    assert devices.trusted_key("bob", [proof]) is None  # a foreign proof
    assert (
        devices.trusted_key("alice", [proof[:-2] + ("A" if proof[-2] != "A" else "B") + proof[-1]])
        is None
    )
    assert devices.trusted_key("alice", ["", None, "garbage", "a.b.c"]) is None
    # A value signed for another purpose with the same secret is no proof.
    csrf = CsrfSigner(KeyRing(SECRET), 3600).token_for("alice")
    assert devices.trusted_key("alice", [csrf]) is None
    # Signed with another secret: refused; with a fallback of the ring: accepted.
    other = Devices(DeviceSigner(KeyRing("t" * 40), DEVICE_SECONDS, clock)).grant("alice").token
    assert devices.trusted_key("alice", [other]) is None
    rotated = Devices(DeviceSigner(KeyRing("u" * 40, (SECRET,)), DEVICE_SECONDS, clock))
    assert rotated.trusted_key("alice", [proof]) == key


def test_a_proof_expires_after_device_seconds() -> None:
    clock = FrozenClock()
    devices = Devices(DeviceSigner(KeyRing(SECRET), DEVICE_SECONDS, clock))
    proof = devices.grant("alice").token
    clock.advance(DEVICE_SECONDS)
    assert devices.trusted_key("alice", [proof]) is not None
    clock.advance(1)
    assert devices.trusted_key("alice", [proof]) is None


def test_one_cookie_keeps_five_accounts_newest_first() -> None:
    devices = Devices(DeviceSigner(KeyRing(SECRET), DEVICE_SECONDS, FrozenClock()))
    cookie = None
    for name in ("u1", "u2", "u3", "u4", "u5", "u6", "u3"):
        granted = devices.grant(name, cookie)
        assert split(granted.cookie)[0] == granted.token
        cookie = granted.cookie
    proofs = split(cookie)
    assert len(proofs) == 5
    trusted = [
        name for name in ("u1", "u2", "u3", "u4", "u5", "u6") if devices.trusted_key(name, proofs)
    ]
    assert trusted == ["u2", "u3", "u4", "u5", "u6"]  # u1, the oldest, made room
    # Forged entries in the cookie are dropped when the next proof is added.
    regranted = devices.grant("u7", "junk~" + (cookie or ""))
    assert "junk" not in split(regranted.cookie)


# -- the decision table ----------------------------------------------------------------------


async def test_owner_gets_in_while_strangers_stay_locked_out(world: World) -> None:
    proof = world.proof("alice")
    await lock_out(world, "alice")
    checks = world.hasher.checks
    assert await world.sign_in("alice", PASSWORD, [proof]) == "ok"
    assert world.hasher.checks == checks + 1
    # The untrusted lock runs on: strangers, and the owner from a new browser, stay out.
    assert await world.sign_in("alice", PASSWORD) == "locked"
    assert world.hasher.checks == checks + 1
    assert await world.failures("alice") == 5


async def test_a_trusted_attempt_passes_a_locked_ip_and_still_counts_on_it(world: World) -> None:
    proof = world.proof("alice")
    for n in range(20):
        await world.sign_in(f"nobody{n}", WRONG)
    assert await world.sign_in("bob", PASSWORD) == "locked"  # the IP is locked
    ip_failures = await world.failures(ip_key(IP))
    assert await world.sign_in("alice", WRONG, [proof]) == "invalid"
    assert await world.failures(ip_key(IP)) == (ip_failures or 0) + 1
    assert await world.sign_in("alice", PASSWORD, [proof]) == "ok"
    assert (
        await world.failures(ip_key(IP)) == (ip_failures or 0) + 1
    )  # a success takes back its own


async def test_trusted_failures_lock_the_proof_and_not_the_username(world: World) -> None:
    proof = world.proof("alice")
    key = world.services.devices.trusted_key("alice", [proof])
    assert key is not None
    assert [await world.sign_in("alice", WRONG, [proof]) for _ in range(3)] == ["invalid"] * 3
    assert await world.failures(key) == 3
    assert await world.failures("alice") is None
    # The proof is locked: the browser is untrusted now, and meets the username's lock. The
    # username is not locked yet, so its password is checked, as any stranger's would be.
    assert await world.sign_in("alice", WRONG, [proof]) == "invalid"
    assert await world.failures(key) == 4
    assert await world.failures("alice") == 1
    # Once strangers lock the username too, the browser is refused without a hash.
    for n in range(2):
        assert await world.sign_in("alice", WRONG, ip=f"198.51.100.{n}") == "invalid"
    checks = world.hasher.checks
    assert await world.sign_in("alice", PASSWORD, [proof]) == "locked"
    assert world.hasher.checks == checks
    # The window passes in silence: the proof is trusted again, the username lock is gone too.
    world.clock.advance(LOCK)
    assert await world.sign_in("alice", PASSWORD, [proof]) == "ok"


async def test_a_trusted_success_clears_only_its_own_proof(world: World) -> None:
    proof = world.proof("alice")
    key = world.services.devices.trusted_key("alice", [proof])
    assert key is not None
    assert await world.sign_in("alice", WRONG) == "invalid"  # untrusted: on the username
    assert await world.sign_in("alice", WRONG, [proof]) == "invalid"
    assert await world.sign_in("alice", PASSWORD, [proof]) == "ok"
    assert await world.failures(key) is None
    assert await world.failures("alice") == 1
    assert await world.sign_in("alice", PASSWORD) == "ok"  # untrusted success clears the username
    assert await world.failures("alice") is None


async def test_forged_foreign_and_expired_proofs_are_untrusted(world: World) -> None:
    bobs = world.proof("bob")
    proof = world.proof("alice")
    await lock_out(world, "alice")
    assert await world.sign_in("alice", PASSWORD, [bobs]) == "locked"
    assert await world.sign_in("alice", PASSWORD, [proof + "x"]) == "locked"
    assert await world.sign_in("alice", PASSWORD, [bobs, proof]) == "ok"  # any valid one counts


async def test_an_expired_proof_is_untrusted(world: World) -> None:
    proof = world.proof("alice")
    world.clock.advance(DEVICE_SECONDS + 1)
    for n in range(3):
        await world.sign_in("alice", WRONG, ip=f"198.51.100.{n}")
    assert await world.sign_in("alice", PASSWORD, [proof]) == "locked"


async def test_trusted_and_untrusted_failures_look_alike(world: World) -> None:
    proof = world.proof("alice")
    trusted = await world.sign_in("alice", WRONG, [proof])
    untrusted = await world.sign_in("alice", WRONG)
    unknown = await world.sign_in("nobody", WRONG)
    assert trusted == untrusted == unknown == "invalid"


async def test_twenty_concurrent_attempts_with_and_without_a_proof(world: World) -> None:
    proof = world.proof("alice")
    trusted = [world.sign_in("alice", WRONG, [proof], ip=f"198.51.100.{n}") for n in range(20)]
    strangers = [world.sign_in("alice", WRONG, ip=f"203.0.113.{n}") for n in range(20)]
    results = await asyncio.gather(*trusted, *strangers)
    # Three checks on the proof's count, three on the username's (the locked proof's
    # later attempts are untrusted): never more.
    assert world.hasher.verifies == 6
    assert results.count("invalid") == world.hasher.verifies
    assert results.count("locked") == 40 - world.hasher.verifies
    key = world.services.devices.trusted_key("alice", [proof])
    assert key is not None
    assert await world.failures(key) == 20


# -- the lock mail ---------------------------------------------------------------------------


async def test_the_lock_mail_goes_once_per_window_and_its_link_gives_a_proof(world: World) -> None:
    await lock_out(world, "carol")
    await world.services.unlock.drain()
    assert len(world.outbox()) == 1
    text = world.outbox()[0].read_text()
    assert "/unlock?token=" in text
    # Lifted (say by an admin) and started again at once: still one mail in the window.
    assert await world.services.lockout.clear("carol")
    await lock_out(world, "carol")
    await world.services.unlock.drain()
    assert len(world.outbox()) == 1
    # A lock that starts after a silent window is news again.
    world.clock.advance(LOCK)
    await lock_out(world, "carol")
    await world.services.unlock.drain()
    assert len(world.outbox()) == 2
    token = text.split("/unlock?token=")[1].split()[0]
    user = await world.services.unlock.redeem(token)
    assert user.username == "Carol"
    with pytest.raises(TokenUsed):
        await world.services.unlock.redeem(token)


async def test_no_lock_mail_without_a_verified_address_or_for_trusted_failures(
    world: World,
) -> None:
    await lock_out(world, "alice")  # no address
    await lock_out(world, "nobody")  # no account
    proof = world.proof("carol")
    for _ in range(4):
        await world.sign_in("carol", WRONG, [proof])  # the proof locks, the username does not
    await world.services.unlock.drain()
    assert world.outbox() == []


# -- the keys as people see them ---------------------------------------------------------------


async def test_device_locks_are_listed_and_cleared_by_their_shown_key(world: World) -> None:
    proof = world.proof("alice")
    for _ in range(3):
        await world.sign_in("alice", WRONG, [proof])
    stored = world.services.devices.trusted_key("alice", [proof])
    assert stored is not None
    shown = shown_key(stored)
    assert shown.startswith("device:alice:")
    infos = await world.services.lockout.locks(locked_only=True)
    assert [info.key for info in infos] == [shown]
    assert parse_key(shown.replace("alice", "ALICE")) == stored
    assert await world.services.lockout.clear_key(shown)
    assert await world.sign_in("alice", PASSWORD, [proof]) == "ok"


def test_device_keys_parse() -> None:
    assert parse_key("device:Alice:AbC-12") == device_key("alice", "AbC-12")
    for bad in ("device:", "device:alice", "device::id", "device:alice:"):
        with pytest.raises(ValueError, match="device:USERNAME:ID"):
            parse_key(bad)


async def test_a_locked_proof_on_a_locked_ip_is_refused_without_touching_the_name(
    world: World,
) -> None:
    proof = world.proof("alice")
    for _ in range(3):
        assert await world.sign_in("alice", WRONG, [proof]) == "invalid"
    for n in range(17):
        assert await world.sign_in(f"nobody{n}", WRONG) == "invalid"
    assert await world.failures(ip_key(IP)) == 20
    checks = world.hasher.checks
    assert await world.sign_in("alice", PASSWORD, [proof]) == "locked"
    assert world.hasher.checks == checks
    assert await world.failures("alice") is None  # refused for its IP, as section 5 step 2
