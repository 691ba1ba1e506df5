"""W6: sign-in latency and 503s while a flood of junk sign-ups runs (SPEC section 16).

Each junk sign-up sends a v1 pre-hash, so the server runs the common-password sweep (~60,000
SHA-512, tens of ms of CPU) before it can refuse or hash it. A real user signs in meanwhile
from another address. Reported: sign-in latency idle and under the flood (median, p95, max)
and the sign-ins that got 503. The server runs with the OWASP argon2 cost (t=2, m=19 MiB), one
worker, on 127.0.0.1; the flood comes from `--ips` loopback addresses (127.0.1.x).

Usage: `python bench/w6_signup_flood.py [--src DIR] [--label NAME] [--limit N] [--ips N]`.
`--src` runs another checkout's `src` (before/after: a `git worktree` of the older commit);
`--limit` sets SIGNIN_SIGNUP_LIMIT_PER_IP (ignored by a build that predates it).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
SIGN_INS = 40
FLOOD = 100  # sign-ups in flight at once
FLOOD_SECONDS = 20.0  # the sign-ins under the flood start 2 s in


def prehash(username: str, password: str) -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from signin.crypto.prehash import prehash_v1

    return prehash_v1(username, password)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(src: Path, data: Path, port: int, limit: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNIN_")}
    env.update(
        PYTHONPATH=str(src),
        SIGNIN_DATA_DIR=str(data),
        SIGNIN_SIGNUP_LIMIT_PER_IP=str(limit),
        SIGNIN_IP_LOCK_MAX_FAILURES="1000000",
        SIGNIN_LOG_LEVEL="warning",
    )
    argv = [sys.executable, "-m", "signin", "serve", "--port", str(port)]
    log = (data.parent / "server.log").open("wb")
    proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("signin did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


async def sign_ins(base: str, count: int) -> tuple[list[float], int]:
    """`count` sequential sign-ins of the real user from 127.0.0.1: latencies (ms), failures.

    A failure is a 503 or a connection the server dropped without an answer.
    """
    body = {"username": "realuser", "password": prehash("realuser", PASSWORD)}
    took, busy = [], 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(count):
            started = time.perf_counter()
            try:
                answer = await client.post("/api/v1/session", json=body)
            except httpx.TransportError as exc:
                print(f"sign-in dropped: {type(exc).__name__} {exc}", file=sys.stderr)
                busy += 1
                continue
            took.append((time.perf_counter() - started) * 1000)
            busy += answer.status_code == 503
            if answer.status_code not in (201, 503):
                raise RuntimeError(f"sign-in answered {answer.status_code}: {answer.text}")
    return took, busy


def flood_process(base: str, ips: int, seconds: float, out: Path) -> None:
    """The flood, in a process of its own: its CPU must not delay the measuring client."""

    counts: dict[int, int] = {}

    async def run() -> None:
        stop_flag = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop_flag.set)
        await flood(base, ips, stop_flag, counts)

    asyncio.run(run())
    out.write_text(repr(dict(sorted(counts.items()))))


async def flood(base: str, ips: int, stop_flag: asyncio.Event, counts: dict[int, int]) -> None:
    async def one(ip: str) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=ip)
        async with httpx.AsyncClient(base_url=base, timeout=60, transport=transport) as client:
            while not stop_flag.is_set():
                name = "junk" + secrets.token_hex(6)
                body = {"username": name, "password": prehash(name, secrets.token_hex(8))}
                try:
                    answer = await client.post("/api/v1/users", json=body)
                    counts[answer.status_code] = counts.get(answer.status_code, 0) + 1
                except httpx.HTTPError:
                    counts[0] = counts.get(0, 0) + 1

    await asyncio.gather(*(one(f"127.0.1.{1 + n % ips}") for n in range(FLOOD)))


def summary(took: list[float]) -> str:
    ordered = sorted(took)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (
        f"median {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  max {ordered[-1]:7.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--limit", type=int, default=1_000_000)
    parser.add_argument("--ips", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as work:
        proc = start(args.src.resolve(), Path(work) / "data", port, args.limit)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                body = {"username": "realuser", "password": PASSWORD}
                made = await client.post("/api/v1/users", json=body)
            assert made.status_code == 201, made.text
            await sign_ins(base, 5)  # warm up
            idle, idle_busy = await sign_ins(base, SIGN_INS)
            counted = Path(work) / "flood.txt"
            flooder = multiprocessing.Process(
                target=flood_process, args=(base, args.ips, FLOOD_SECONDS, counted)
            )
            flooder.start()
            await asyncio.sleep(2)  # let the flood fill the queues
            loaded, loaded_busy = await sign_ins(base, SIGN_INS)
            flooder.join(timeout=FLOOD_SECONDS + 60)
            counts = counted.read_text() if counted.exists() else "?"
        finally:
            stop(proc)
    print(
        f"W6 [{args.label}] flood: {FLOOD} sign-ups in flight from {args.ips} addresses, "
        f"SIGNIN_SIGNUP_LIMIT_PER_IP={args.limit}"
    )
    print(f"  sign-in idle:        {summary(idle)}  503s/drops {idle_busy}/{SIGN_INS}")
    print(f"  sign-in under flood: {summary(loaded)}  503s/drops {loaded_busy}/{SIGN_INS}")
    ratio = statistics.median(loaded) / statistics.median(idle)
    print(f"  median ratio flood/idle: {ratio:.2f}x;  sign-up answers (0: dropped): {counts}")


if __name__ == "__main__":
    asyncio.run(main())
