"""OIDC mode (`bench/run.sh --oidc`): code round trips, token-endpoint latency, refresh CPU.

Issue 24: authorization-code round trips per second and token-endpoint latency with one worker,
on SQLite and on PostgreSQL + Redis, beside the raw argon2id ceiling; a token refresh must cost
less than 2 ms of server CPU. Two `signin serve --workers 1` (SQLite; PostgreSQL + Redis), both
up, loaded one at a time, rounds alternating; each keeps its best round (outside load only
slows). One confidential client (`client_secret_basic`, consent skipped, refresh tokens allowed).

- O1 code round trip: with a signed-in session, `GET /oidc/authorize` (PKCE S256) answers a
  redirect with a code, and `POST /oidc/token` exchanges it (ID token signed, access and refresh
  token stored). No password hash: the person is signed in already, as on every SSO hop.
- O2 refresh: each client rotates its own refresh token (`grant_type=refresh_token`).
- O1 alone: O1 with one client at a time, for the token endpoint's latency without queueing.
- O3 sign-in + round trip: `POST /api/v1/session` (one argon2id verification at the bench cost)
  then O1: the whole first visit, set beside W0 (argon2id verifications/s with 2 threads,
  measured between the rounds on the idle machine).

Server CPU per operation is the server processes' own CPU time (/proc, all threads) over the
round divided by the operations; latency is the token request's alone, at the client.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import scaleout
import workloads as w
from clients import client, create_users
from servers import WORK, Server, fresh_dir, signin_server
from systems import PASSWORD, SIGNIN

CLIENT_ID = "bench"
SECRET = secrets.token_urlsafe(32)
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the code is read from Location
VERIFIER = secrets.token_urlsafe(48)
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
AUTHORIZE = {
    "response_type": "code",
    "client_id": CLIENT_ID,
    "redirect_uri": REDIRECT_URI,
    "scope": "openid profile email groups offline_access",
    "state": "bench-state",
    "nonce": "bench-nonce",
    "code_challenge": CHALLENGE.decode(),
    "code_challenge_method": "S256",
}
CLIENTS_TOML = f"""[[client]]
id = "{CLIENT_ID}"
name = "Benchmark"
redirect_uris = ["{REDIRECT_URI}"]
secret_hash = "sha256:{hashlib.sha256(SECRET.encode()).hexdigest()}"
token_endpoint_auth_method = "client_secret_basic"
consent = "skip"
offline_access = true
"""
NAMES = ("sqlite", "pg-redis")


class FlowError(RuntimeError):
    """An answer the flow did not expect: the run stops and says which."""


@dataclass
class Tally:
    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def numbers(self, cpu: float) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]

        def pct(p: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]

        return {
            "rate": self.ops / self.seconds if self.seconds else 0.0,
            "ops": self.ops,
            "token_p50_ms": pct(0.50),
            "token_p99_ms": pct(0.99),
            "cpu_ms": 1000 * cpu / max(1, self.ops),
        }


async def code_for(http: httpx.AsyncClient, session: str) -> str:
    answer = await http.get(
        "/oidc/authorize", params=AUTHORIZE, headers={"cookie": f"session={session}"}
    )
    location = answer.headers.get("location", "")
    codes = parse_qs(urlsplit(location).query).get("code")
    if answer.status_code not in (302, 303) or not codes:
        raise FlowError(f"authorize answered {answer.status_code} {location[:120]!r}")
    return codes[0]


async def token(http: httpx.AsyncClient, form: dict[str, str], tally: Tally) -> dict[str, Any]:
    sent = time.perf_counter()
    answer = await http.post("/oidc/token", data=form, auth=(CLIENT_ID, SECRET))
    tally.latencies.append(time.perf_counter() - sent)
    if answer.status_code != 200:
        raise FlowError(f"token answered {answer.status_code} {answer.text[:200]!r}")
    body: dict[str, Any] = answer.json()
    return body


async def round_trip(http: httpx.AsyncClient, session: str, tally: Tally) -> dict[str, Any]:
    code = await code_for(http, session)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    return await token(http, {**form, "code_verifier": VERIFIER}, tally)


async def sign_in(http: httpx.AsyncClient, username: str) -> str:
    answer = await http.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    if answer.status_code != 201:
        raise FlowError(f"sign-in of {username} answered {answer.status_code}")
    session: str = answer.json()["token"]
    return session


Step = Callable[[httpx.AsyncClient, int, Tally], Awaitable[None]]


async def closed_loop(server: Server, clients: int, seconds: float, step: Step) -> dict[str, Any]:
    """`clients` workers, each repeating `step` until the deadline; CPU over the whole run."""
    tally = Tally()
    async with client(server.base, clients) as http:
        deadline = time.perf_counter() + seconds
        cpu = server.cpu_seconds()
        started = time.perf_counter()

        async def worker(number: int) -> None:
            while time.perf_counter() < deadline:
                await step(http, number, tally)
                tally.ops += 1

        await asyncio.gather(*(worker(n) for n in range(clients)))
        tally.seconds = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu
    return tally.numbers(cpu)


def o1(sessions: list[str]) -> Step:
    """A code round trip on the worker's own signed-in session."""

    async def step(http: httpx.AsyncClient, n: int, tally: Tally) -> None:
        await round_trip(http, sessions[n], tally)

    return step


def o2(sessions: list[str]) -> Step:
    """A refresh of the worker's own chain; its first pass starts the chain (not counted)."""
    chains: dict[int, str] = {}

    async def step(http: httpx.AsyncClient, n: int, tally: Tally) -> None:
        if n not in chains:
            chains[n] = (await round_trip(http, sessions[n], Tally()))["refresh_token"]
            tally.ops -= 1  # the closed loop counts every pass; this one was no refresh
            return
        form = {"grant_type": "refresh_token", "refresh_token": chains[n]}
        chains[n] = (await token(http, form, tally))["refresh_token"]

    return step


def o3(names: list[str]) -> Step:
    """A password sign-in (one argon2id verification), then a code round trip."""

    async def step(http: httpx.AsyncClient, n: int, tally: Tally) -> None:
        await round_trip(http, await sign_in(http, names[n]), tally)

    return step


async def measure(running: dict[str, Server], plan: w.Plan) -> dict[str, Any]:
    clients = plan.signin_clients
    names = [f"bench{i}" for i in range(clients)]
    sessions: dict[str, list[str]] = {}
    for name, server in running.items():
        await create_users(server.base, SIGNIN, names)
        async with client(server.base, 1) as http:
            sessions[name] = [await sign_in(http, user) for user in names]
            await round_trip(http, sessions[name][0], Tally())  # warm: keys loaded, paths hot
    rounds: dict[str, dict[str, list[dict[str, Any]]]] = {n: {} for n in running}
    ceilings = []
    for number in range(plan.rounds):
        for name, server in running.items():
            found = rounds[name]
            steps = {"O1": o1(sessions[name]), "O2": o2(sessions[name]), "O3": o3(names)}
            for workload, step in steps.items():
                numbers = await closed_loop(server, clients, plan.signin_s, step)
                found.setdefault(workload, []).append(numbers)
            alone = await closed_loop(server, 1, plan.signin_s / 2, o1(sessions[name]))
            found.setdefault("O1_alone", []).append(alone)
            print(
                f"[oidc] round {number + 1} {name}: "
                f"O1 {found['O1'][-1]['rate']:.0f}/s {found['O1'][-1]['cpu_ms']:.2f} ms CPU, "
                f"O2 {found['O2'][-1]['rate']:.0f}/s {found['O2'][-1]['cpu_ms']:.2f} ms CPU, "
                f"O3 {found['O3'][-1]['rate']:.1f}/s",
                flush=True,
            )
        ceilings.append(w.w0_once(plan, 2))
    out: dict[str, Any] = {}
    for name, found in rounds.items():
        out[name] = {}
        for workload, numbers in found.items():
            best = w.best_of(numbers)
            # CPU per operation and latency: the lowest of the rounds (other load only adds).
            best["cpu_ms_best"] = min(float(n["cpu_ms"]) for n in numbers)
            best["cpu_ms_rounds"] = [round(float(n["cpu_ms"]), 3) for n in numbers]
            best["token_p99_best_ms"] = min(float(n["token_p99_ms"]) for n in numbers)
            out[name][workload] = best
    out["ceiling"] = {"W0_2": w.best_of(ceilings, "per_second")}
    return out


async def run(plan: w.Plan) -> dict[str, Any]:
    database = scaleout.backing("create", f"signin_bench_oidc_{secrets.token_hex(4)}")
    started: list[Server] = []
    try:
        clients_file = fresh_dir(WORK / "oidc") / "clients.toml"
        clients_file.write_text(CLIENTS_TOML)
        base = {**scaleout.SHARED_ENV, "SIGNIN_OIDC_CLIENTS": str(clients_file)}
        pg = {**base, "SIGNIN_DATABASE_URL": database, "SIGNIN_REDIS_URL": scaleout.REDIS}
        envs = {"sqlite": base, "pg-redis": pg}
        running: dict[str, Server] = {}
        for name in NAMES:
            server = signin_server(fresh_dir(WORK / f"oidc-{name}"), {}, name=f"oidc-{name}")
            # The issuer is the address the bench reaches (PUBLIC_URL), known once the port is.
            server.env.update(envs[name], SIGNIN_PUBLIC_URL=server.base)
            print(f"[oidc] starting {name} on {server.base}", flush=True)
            server.start()
            started.append(server)
            running[name] = server
        return await measure(running, plan)
    finally:
        for server in started:
            server.stop()
        scaleout.backing("drop", database.rpartition("/")[2])
        print("[oidc] stopped every server; database dropped, Redis flushed", flush=True)
