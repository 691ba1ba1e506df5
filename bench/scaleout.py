"""Scale-out mode (`bench/run.sh --scale-out`): PostgreSQL + Redis beside SQLite, in one run.

SPEC section 11: on PostgreSQL + Redis a session check and a forward-auth check cost at most
twice their SQLite cost per process (here: rate ratio >= 0.5, p99 < 20 ms at 32 connections);
a valid sign-in costs its hash plus at most 4 ms of CPU. Servers, all on 127.0.0.1, all up at
once and idle except the one under load, so that rounds can alternate between them:

- `sqlite`: `signin serve --workers 1` on a SQLite file (the bar);
- `pg`: the same on PostgreSQL alone (sessions and locks in SQL), for reference;
- `pg-redis`: the same on PostgreSQL + Redis, and `pg-redis-w2` with `--workers 2` (two
  processes behind one port), sharing that database and Redis as two instances would;
- `raw-asgi`: `bench/raw_asgi.py` under uvicorn with `signin serve`'s flags (the stretch bar).

PostgreSQL: a fresh database on `BENCH_POSTGRES_URL` (default the local server as `postgres`),
dropped afterwards. Redis: the database of `BENCH_REDIS_URL` (default db 12), flushed before
and after.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import workloads as w
from servers import SIGNIN_VENV, WORK, Server, fresh_dir, raw_asgi_server, signin_server
from systems import FLOOR, SIGNIN

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CONNECTIONS = 32  # the load for checks
CHECKS = {"W1": "/api/v1/session", "FA": "/api/v1/verify"}
TARGETS = {
    "W1": ("sqlite", "pg", "pg-redis", "pg-redis-w2", "raw-asgi"),
    "FA": ("sqlite", "pg-redis"),
}
# The same on every instance: they share the database, and a form or link made by one is
# accepted by the other.
SHARED_ENV = {
    "SIGNIN_SECRET_KEY": secrets.token_urlsafe(32),
    "SIGNIN_IP_LOCK_MAX_FAILURES": "1000000",
}

Profile = Callable[[Server, str, float], subprocess.Popen[bytes]]

# argon2id at its least cost (8 KiB, one pass): about 0.01 ms, next to a sign-in's other work.
CHEAP_HASH = {"SIGNIN_ARGON2_TIME_COST": "1", "SIGNIN_ARGON2_MEMORY_KIB": "8"}

# Run with signin's own interpreter (asyncpg and redis are there, not in the bench venv).
ADMIN = """
import asyncio, sys
import asyncpg
from redis.asyncio import Redis

async def main(action, server, name, redis_url):
    conn = await asyncpg.connect(server, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if action == "create":
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()

asyncio.run(main(*sys.argv[1:]))
"""


def backing(action: str, name: str) -> str:
    """Create (or drop) the PostgreSQL database `name` and flush the bench's Redis database."""
    python = str(SIGNIN_VENV / "bin" / "python")
    subprocess.run([python, "-c", ADMIN, action, POSTGRES, name, REDIS], check=True, timeout=60)
    base, _, _ = POSTGRES.rpartition("/")
    return f"{base}/{name}"


def servers(database: str, *, cheap: bool = False) -> dict[str, Server]:
    """The phase's servers: the whole set, or (`cheap`) SQLite and PG + Redis hashing at
    argon2's least cost, where a sign-in's CPU is all that is not its hash."""
    base = {**SHARED_ENV, **(CHEAP_HASH if cheap else {})}
    pg = {**base, "SIGNIN_DATABASE_URL": database}
    redis = {**pg, "SIGNIN_REDIS_URL": REDIS}
    names = ("sqlite", "pg-redis") if cheap else TARGETS["W1"]
    fresh = {name: fresh_dir(WORK / f"scale-{name}") for name in names}
    made = {
        "sqlite": lambda: signin_server(fresh["sqlite"], base, name="sqlite"),
        "pg": lambda: signin_server(fresh["pg"], pg, name="pg"),
        "pg-redis": lambda: signin_server(fresh["pg-redis"], redis, name="pg-redis"),
        "pg-redis-w2": lambda: signin_server(
            fresh["pg-redis-w2"], redis, workers=2, name="pg-redis-w2"
        ),
        "raw-asgi": raw_asgi_server,
    }
    return {name: made[name]() for name in names}


async def run(plan: w.Plan, spy: bool, profile: Profile) -> dict[str, Any]:
    """Phase 1: every server, every workload. Phase 2, on a new database and a flushed Redis:
    sign-ins with a negligible hash (the CPU a sign-in costs beyond its hash)."""
    out = await phase(lambda running: measure(running, plan, spy, profile))
    cheap = await phase(lambda running: sign_ins(running, plan), cheap=True)
    for name, numbers in cheap.items():
        out[name]["W2_cheap_hash"] = numbers
    return out


async def phase(
    work: Callable[[dict[str, Server]], Awaitable[dict[str, Any]]],
    *,
    cheap: bool = False,
) -> dict[str, Any]:
    database = backing("create", f"signin_bench_{secrets.token_hex(4)}")
    started: list[Server] = []
    try:
        running = servers(database, cheap=cheap)
        for name, server in running.items():
            print(f"[scale-out] starting {name} on {server.base}", flush=True)
            server.start()
            started.append(server)
        return await work(running)
    finally:
        for server in started:
            server.stop()
        backing("drop", database.rpartition("/")[2])
        print("[scale-out] stopped every server; database dropped, Redis flushed", flush=True)


async def sign_ins(running: dict[str, Server], plan: w.Plan) -> dict[str, Any]:
    """W2 on each server, rounds alternating; the best round of each."""
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in running}
    for server in running.values():
        await w.prepare(server, SIGNIN, plan)
    for _ in range(plan.rounds):
        for name, server in running.items():
            rounds[name].append(await w.w2_sign_ins(server, SIGNIN, plan))
            print(
                f"[scale-out] {name} W2 (cheap hash) {rounds[name][-1]['cpu_ms']:.2f} ms CPU",
                flush=True,
            )
    return {name: w.best_of(found) for name, found in rounds.items()}


async def measure(
    running: dict[str, Server], plan: w.Plan, spy: bool, profile: Profile
) -> dict[str, Any]:
    # Users once per database (pg-redis-w2 shares pg-redis'); a session cookie per server.
    cookies = {
        "sqlite": await w.prepare(running["sqlite"], SIGNIN, plan),
        "pg-redis": await w.prepare(running["pg-redis"], SIGNIN, plan),
        "raw-asgi": "unused",
    }
    for name in ("pg", "pg-redis-w2"):
        cookies[name] = await w.cookie_for(running[name], SIGNIN, "bench0")
    out: dict[str, Any] = {name: {} for name in running}
    spies = []
    for number in range(plan.rounds):
        for check, path in CHECKS.items():
            for name in TARGETS[check]:
                server = running[name]
                if spy and number == 0 and name in ("sqlite", "pg-redis"):
                    spies.append(profile(server, f"scale-{name}-{check}", plan.read_s))
                url = server.base + (FLOOR.check_path if name == "raw-asgi" else path)
                numbers = await w.wrk_numbers(
                    server, url, plan.read_s, CONNECTIONS, cookie=cookies[name]
                )
                out[name].setdefault(check, []).append(numbers)
                print(f"[scale-out] {name} {check} {numbers['rate']:.0f}/s", flush=True)
    for found in out.values():
        for check, rounds in list(found.items()):
            found[check] = w.best_of(rounds)
            # Latency the same way as rates: the least disturbed round (noise only adds).
            found[check]["p99_best_ms"] = min(float(n["p99_ms"]) for n in rounds)
            found[check]["p99_rounds"] = [round(float(n["p99_ms"]), 1) for n in rounds]
    hashes = []
    for name in ("sqlite", "pg-redis"):
        out[name]["W2"] = await w.w2_sign_ins(running[name], SIGNIN, plan)
        hashes.append(w.w0_once(plan, 1))
        print(f"[scale-out] {name} W2 {out[name]['W2']['cpu_ms']:.1f} ms CPU/sign-in", flush=True)
    for name in ("sqlite", "pg-redis"):
        out[name]["W3"] = await w.w3_checks_under_flood(running[name], SIGNIN, plan, cookies[name])
        print(f"[scale-out] {name} W3 {out[name]['W3']['rate']:.0f}/s", flush=True)
    for spied in spies:
        spied.wait(timeout=60)
    # CPU per hash: the lowest of the rounds (other load only ever adds to it).
    out["ceiling"] = {"W0_1": min(hashes, key=lambda numbers: float(numbers["cpu_ms"]))}
    out["ceiling"]["W0_1"]["rounds_cpu_ms"] = [round(h["cpu_ms"], 2) for h in hashes]
    return out


if __name__ == "__main__":
    sys.exit("run through bench/run.sh --scale-out")
