"""The workloads W0-W5. Each returns a plain dict of numbers that the report turns into rows.

Server CPU per request is the server processes' own CPU time (user + system, every thread,
argon2 included) spent during the workload, divided by the requests it answered.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clients import (
    LoadResult,
    check_cookie,
    closed_loop,
    create_users,
    device_token,
    session_cookie,
)
from servers import BENCH, SIGNIN_VENV, Server
from systems import PASSWORD, WRONG, Request, System
from wrk import run_wrk

Numbers = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """Durations and sizes; `--quick` shrinks the durations, never the shape of the load."""

    ceiling_s: float
    read_s: float
    signin_s: float
    flood_s: float
    locked_attempts: int
    mixed_s: float
    rounds: int = 2
    read_connections: int = 16
    signin_clients: int = 8
    flood_clients: int = 16
    mixed_clients: int = 64
    users: int = 16


QUICK = Plan(ceiling_s=2, read_s=3, signin_s=5, flood_s=5, locked_attempts=300, mixed_s=6)
FULL = Plan(
    ceiling_s=5, read_s=8, signin_s=12, flood_s=12, locked_attempts=1000, mixed_s=20, rounds=3
)


def best_of(rounds: list[Numbers], key: str = "rate") -> Numbers:
    """The round least disturbed by other load: noise on a shared machine only ever slows."""
    best = dict(max(rounds, key=lambda numbers: float(numbers[key])))
    best["rounds"] = [round(float(numbers[key]), 1) for numbers in rounds]
    return best


def w0_ceiling(plan: Plan) -> Numbers:
    """Best of `plan.rounds` alternating 1- and 2-thread runs."""
    runs: dict[int, list[Numbers]] = {1: [], 2: []}
    for _ in range(plan.rounds):
        for threads in runs:
            runs[threads].append(w0_once(plan, threads))
    return {f"W0_{threads}": best_of(found, "per_second") for threads, found in runs.items()}


def w0_once(plan: Plan, threads: int) -> Numbers:
    argv = [str(SIGNIN_VENV / "bin" / "python"), str(BENCH / "ceiling.py")]
    argv += ["--threads", str(threads), "--seconds", str(plan.ceiling_s)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    result: Numbers = json.loads(done.stdout)
    return result


async def prepare(server: Server, system: System, plan: Plan) -> str:
    """Create the bench users and return a valid session cookie for the session check."""
    names = [f"bench{i}" for i in range(plan.users)]
    await create_users(server.base, system, names)
    return await cookie_for(server, system, names[0])


async def cookie_for(server: Server, system: System, username: str) -> str:
    """A session cookie of `username` (created already), checked once."""
    token = await session_cookie(server.base, system, username)
    await check_cookie(server.base, system, token)
    return token


async def w1_alternating(targets: list[tuple[Server, System, str]], plan: Plan) -> list[Numbers]:
    """W1 on each target in turn, `plan.rounds` times; the best round of each counts."""
    rounds: list[list[Numbers]] = [[] for _ in targets]
    for _ in range(plan.rounds):
        for found, (server, system, cookie) in zip(rounds, targets, strict=True):
            found.append(await w1_session_check(server, system, plan, cookie))
    return [best_of(found) for found in rounds]


async def w1_session_check(server: Server, system: System, plan: Plan, cookie: str) -> Numbers:
    url = server.base + system.check_path
    return await wrk_numbers(server, url, plan.read_s, plan.read_connections, cookie=cookie)


async def wrk_numbers(
    server: Server, url: str, seconds: float, connections: int, **wrk: Any
) -> Numbers:
    """One wrk run against `server`, with the server's CPU per request over that run."""
    cpu = server.cpu_seconds()
    result = await run_wrk(url, seconds=seconds, connections=connections, **wrk)
    cpu = server.cpu_seconds() - cpu
    return {
        "rate": result.rate,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "errors": result.errors + result.non_2xx,
        "cpu_ms": 1000 * cpu / max(1, result.requests),
    }


def _load_numbers(result: LoadResult, cpu: float, ok: tuple[int, int]) -> Numbers:
    return {
        "rate": result.rate(*ok),
        "p50_ms": result.percentile(50),
        "p99_ms": result.percentile(99),
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "failures": dict(result.failures),
        "cpu_ms": 1000 * cpu / max(1, result.requests),
    }


async def w2_sign_ins(server: Server, system: System, plan: Plan) -> Numbers:
    """Valid sign-ins through the API, round-robin over the bench accounts, driven by wrk."""
    posts = [system.sign_in(f"bench{i}", PASSWORD) for i in range(plan.users)]
    url = server.base + system.signin_path
    return await wrk_numbers(server, url, plan.signin_s, plan.signin_clients, posts=posts)


async def w2_alternating(server: Server, system: System, plan: Plan) -> tuple[Numbers, Numbers]:
    """W2 rounds, each followed by a 2-thread W0 round (the server idles meanwhile).

    The ratio compares the best sign-in round with the best ceiling round of the whole run, these
    included: when outside load drifts, both sides have been measured through the same drift.
    """
    signs: list[Numbers] = []
    ceilings: list[Numbers] = []
    for _ in range(plan.rounds):
        signs.append(await w2_sign_ins(server, system, plan))
        ceilings.append(w0_once(plan, 2))
    return best_of(signs), best_of(ceilings, "per_second")


async def w3_checks_under_flood(server: Server, system: System, plan: Plan, cookie: str) -> Numbers:
    """Session checks (wrk) while httpx floods wrong passwords, one fresh username per attempt."""

    def make(number: int) -> Request:
        return system.sign_in(f"flood{number}", WRONG)

    return await _checks_under(server, system, plan, cookie, make)


async def w3_one_name(server: Server, system: System, plan: Plan, cookie: str) -> Numbers:
    """W3 with the flood aimed at one username (SPEC 5a's attacker): after three failures every
    flood attempt is refused by the lock, without a hash, so the checks should barely notice."""

    def make(_number: int) -> Request:
        return system.sign_in("flood-victim", WRONG)

    return await _checks_under(server, system, plan, cookie, make)


async def _checks_under(
    server: Server, system: System, plan: Plan, cookie: str, make: Callable[[int], Request]
) -> Numbers:
    flood = asyncio.create_task(
        closed_loop(server.base, make, concurrency=plan.flood_clients, seconds=plan.flood_s + 1.5)
    )
    await asyncio.sleep(0.5)  # let the hash pool fill before the reads are timed
    cpu = server.cpu_seconds()
    reads = await run_wrk(
        server.base + system.check_path,
        seconds=plan.flood_s,
        connections=plan.read_connections,
        cookie=cookie,
    )
    cpu = server.cpu_seconds() - cpu
    flooded = await flood
    return {
        "rate": reads.rate,
        "p50_ms": reads.p50_ms,
        "p99_ms": reads.p99_ms,
        "errors": reads.errors + reads.non_2xx,
        "flood_rate": flooded.requests / flooded.seconds,
        "flood_statuses": {str(k): v for k, v in sorted(flooded.statuses.items())},
        "flood_failures": dict(flooded.failures),
        "cpu_s": cpu,
    }


async def w4_trusted(server: Server, system: System, plan: Plan) -> Numbers:
    """SPEC 5a: the owner's trusted sign-ins (right password + device proof) while strangers
    keep the username locked. CPU per sign-in, to set beside W2's: a trusted attempt costs the
    one hash any sign-in costs, and nothing more."""
    owner = "trusted-owner"
    await create_users(server.base, system, [owner])
    token = await device_token(server.base, system, owner)
    await lock_username(server, system, owner, "W4t")
    trusted = Request(
        "POST",
        system.signin_path,
        {"json": {"username": owner, "password": PASSWORD, "device_token": token}},
    )
    cpu = server.cpu_seconds()
    # Two at a time: attempts are counted on the proof before they are checked (SPEC 5a), and
    # four in flight at once would lock it as four concurrent guesses would.
    result = await closed_loop(
        server.base, lambda _n: trusted, concurrency=2, seconds=plan.signin_s
    )
    numbers = _load_numbers(result, server.cpu_seconds() - cpu, (201, 201))
    after = await closed_loop(
        server.base,
        lambda _n: system.sign_in(owner, PASSWORD),
        concurrency=1,
        seconds=30,
        max_requests=1,
    )
    numbers["untrusted_after"] = {str(k): v for k, v in after.statuses.items()}
    numbers["requests"] = result.requests
    return numbers


async def lock_username(server: Server, system: System, username: str, workload: str) -> None:
    """Wrong passwords for `username` until the server answers 429 (at most six)."""
    warm = await closed_loop(
        server.base,
        lambda _n: system.sign_in(username, WRONG),
        concurrency=1,
        seconds=30,
        max_requests=6,
    )
    if warm.count(429, 429) == 0:
        raise RuntimeError(f"{workload}: the username never locked: {dict(warm.statuses)}")


async def w4_locked(server: Server, system: System, plan: Plan) -> Numbers:
    """Lock one username with wrong passwords, then measure CPU per refused attempt."""
    victim = "locked-victim"
    await lock_username(server, system, victim, "W4")
    cpu = server.cpu_seconds()
    result = await closed_loop(
        server.base,
        lambda _n: system.sign_in(victim, WRONG),
        concurrency=8,
        seconds=60,
        max_requests=plan.locked_attempts,
    )
    numbers = _load_numbers(result, server.cpu_seconds() - cpu, (429, 429))
    numbers["attempts"] = result.requests
    return numbers


async def w5_mixed(server: Server, system: System, plan: Plan) -> Numbers:
    """64 clients: about a third sign up new accounts, the rest sign in to existing ones."""
    rng = random.Random(5)
    pool = [f"pool{i}" for i in range(48)]
    await create_users(server.base, system, pool)

    def make(number: int) -> Request:
        if rng.random() < 0.35:
            return system.sign_up(f"mixed{number}", PASSWORD)
        # Requests in flight have nearly consecutive numbers, so each pooled account has at
        # most two sign-ins in flight: below the username lock (3), which counts attempts
        # before checking them and would answer 429 to a fourth concurrent one (SPEC 5).
        return system.sign_in(pool[number % len(pool)], PASSWORD)

    cpu = server.cpu_seconds()
    result = await closed_loop(
        server.base, make, concurrency=plan.mixed_clients, seconds=plan.mixed_s
    )
    numbers = _load_numbers(result, server.cpu_seconds() - cpu, (200, 299))
    numbers["server_errors"] = result.count(500, 599) + sum(result.failures.values())
    numbers["requests"] = result.requests
    return numbers
