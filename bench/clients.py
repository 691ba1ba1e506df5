"""Asyncio HTTP drivers (httpx) for the workloads wrk cannot script well: sign-ins and mixes.

`closed_loop` runs N clients that each send their next request as soon as the last one answered,
until a deadline or a request budget runs out, and records every status and latency. The client
keeps no cookies: each request carries exactly what the workload gives it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from systems import PASSWORD, Request, System

TIMEOUT = httpx.Timeout(30.0)


@dataclass
class LoadResult:
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.failures.values())

    def count(self, low: int, high: int) -> int:
        return sum(n for status, n in self.statuses.items() if low <= status <= high)

    def rate(self, low: int = 200, high: int = 299) -> float:
        return self.count(low, high) / self.seconds if self.seconds else 0.0

    def percentile(self, pct: float) -> float:
        """Latency in milliseconds at `pct` (0-100), nearest rank."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000


def client(base: str, connections: int) -> httpx.AsyncClient:
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, cookies=no_cookies, limits=limits, timeout=TIMEOUT)


async def closed_loop(
    base: str,
    make: Callable[[int], Request],
    *,
    concurrency: int,
    seconds: float,
    max_requests: int | None = None,
) -> LoadResult:
    result = LoadResult()
    numbers = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds

    async def one_client(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            number = next(numbers)
            if max_requests is not None and number >= max_requests:
                return
            request = make(number)
            sent = time.perf_counter()
            try:
                response = await http.request(request.method, request.path, **request.kwargs)
            except httpx.HTTPError as exc:
                result.failures[type(exc).__name__] += 1
                continue
            result.latencies.append(time.perf_counter() - sent)
            result.statuses[response.status_code] += 1

    async with client(base, concurrency) as http:
        await asyncio.gather(*(one_client(http) for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


async def create_users(base: str, system: System, names: list[str]) -> None:
    """Sign up every name (4 at a time); any answer but 201 stops the run."""

    def make(number: int) -> Request:
        return system.sign_up(names[number], PASSWORD)

    result = await closed_loop(base, make, concurrency=4, seconds=300, max_requests=len(names))
    if result.statuses != Counter({201: len(names)}):
        raise RuntimeError(
            f"{system.name}: sign-up of bench users answered {dict(result.statuses)}"
        )


async def session_cookie(base: str, system: System, username: str) -> str:
    async with client(base, 1) as http:
        request = system.sign_in(username, PASSWORD)
        response = await http.request(request.method, request.path, **request.kwargs)
    token = response.cookies.get("session")
    if response.status_code >= 300 or not token:
        raise RuntimeError(f"{system.name}: sign-in for a cookie answered {response.status_code}")
    return token


async def device_token(base: str, system: System, username: str) -> str:
    """The device proof (SPEC 5a) a sign-in of `username` returns."""
    async with client(base, 1) as http:
        request = system.sign_in(username, PASSWORD)
        response = await http.request(request.method, request.path, **request.kwargs)
    if response.status_code != 201:
        raise RuntimeError(
            f"{system.name}: sign-in for a device proof answered {response.status_code}"
        )
    token: str = response.json()["device_token"]
    return token


async def check_cookie(base: str, system: System, token: str) -> None:
    async with client(base, 1) as http:
        response = await http.get(system.check_path, headers={"cookie": f"session={token}"})
    if response.status_code != 200:
        raise RuntimeError(f"{system.name}: session check answered {response.status_code}")
