"""Run wrk (one thread, keep-alive) with bench/lua/report.lua and parse its JSON line.

GET by default; with `posts`, each request POSTs the next of those bodies (bench/lua/posts.lua),
which is how W2 signs in: wrk costs a few microseconds of CPU per request where a Python
client costs most of a millisecond, on the same two cores the server and its hashes run on.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from servers import BENCH, WORK
from systems import Request

LUA = BENCH / "lua" / "report.lua"
POSTS = BENCH / "lua" / "posts.lua"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    non_2xx: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Answered requests per second that were not errors."""
        good = self.requests - self.non_2xx - self.errors
        return good / self.seconds if self.seconds else 0.0


async def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    cookie: str = "",
    posts: list[Request] | None = None,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    script = LUA
    extra: list[str] = []
    if posts:
        # wrk runs one script: the POST generator with the report's `done` appended.
        script = WORK / "posts-report.lua"
        script.write_text(POSTS.read_text() + "\n" + LUA.read_text())
        kinds = {request.encoded()[0] for request in posts}
        if len(kinds) != 1:
            raise ValueError(f"one content type per run, not {sorted(kinds)}")
        extra = ["--", urlsplit(url).path, kinds.pop(), *(r.encoded()[1] for r in posts)]
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        *(["-H", f"Cookie: session={cookie}"] if cookie else []),
        *(arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")),
        url,
        *extra,
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line.removeprefix("WRKJSON "))
            break
    else:
        raise RuntimeError(f"wrk printed no result:\n{text}")
    errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        non_2xx=data["status"],
        p50_ms=data["p50"] / 1000,
        p99_ms=data["p99"] / 1000,
    )
