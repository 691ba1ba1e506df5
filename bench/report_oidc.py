"""The OIDC section of bench/RESULTS.md, from `bench/run.sh --oidc` (bench/oidc.py).

It sits between two markers; a full run (report.write) and a scale-out run keep it, and an OIDC
run replaces only it. The findings under it are written by hand in bench/FINDINGS-oidc.md.
"""

from __future__ import annotations

from typing import Any

from report import BEGIN_OIDC as BEGIN
from report import END_OIDC as END
from report import RESULTS, _fmt, _get, _row, kept_section
from servers import BENCH

REFRESH_BUDGET_MS = 2.0


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("**pass**" if ok else "**FAIL**")


def rows(r: dict[str, Any]) -> list[list[str]]:
    g = lambda *p: _get(r, *p)  # noqa: E731
    both = ("sqlite", "pg-redis")
    ceiling = g("ceiling", "W0_2", "per_second")
    hash_ms = g("ceiling", "W0_2", "cpu_ms")

    def cells(workload: str, key: str, digits: int) -> list[str]:
        return [_fmt(g(name, workload, key), digits) for name in both]

    def latency(workload: str) -> list[str]:
        p50 = [_fmt(g(n, workload, "token_p50_ms"), 1) for n in both]
        p99 = [_fmt(g(n, workload, "token_p99_best_ms"), 1) for n in both]
        return [f"{a} / {b}" for a, b in zip(p50, p99, strict=True)]

    refresh = [g(name, "O2", "cpu_ms_best") for name in both]
    within = None if None in refresh else all(value < REFRESH_BUDGET_MS for value in refresh)
    o3 = [g(name, "O3", "rate") for name in both]
    share = [value / ceiling if value and ceiling else None for value in o3]
    return [
        ["O1 code round trips/s (authorize + token)", *cells("O1", "rate", 0), "–", "–", "–"],
        ["O1 server CPU ms per round trip", *cells("O1", "cpu_ms_best", 2), "–", "–", "–"],
        ["O1 token endpoint p50 / p99 ms (code grant)", *latency("O1"), "–", "–", "–"],
        ["O1 alone: token p50 / p99 ms, one client at a time", *latency("O1_alone"), "–", "–", "–"],
        ["O2 refreshes/s (each client rotates its own)", *cells("O2", "rate", 0), "–", "–", "–"],
        ["O2 token endpoint p50 / p99 ms (refresh)", *latency("O2"), "–", "–", "–"],
        [
            "O2 server CPU ms per refresh",
            *cells("O2", "cpu_ms_best", 3),
            "–",
            f"< {REFRESH_BUDGET_MS:g} ms",
            verdict(within),
        ],
        [
            "O3 sign-in + code round trips/s (ratio to W0, 2 threads)",
            *(f"{_fmt(v, 1)} ({_fmt(s, 2)})" for v, s in zip(o3, share, strict=True)),
            f"W0 {_fmt(ceiling, 1)}/s",
            "–",
            "–",
        ],
        [
            "O3 server CPU ms per sign-in + round trip",
            *cells("O3", "cpu_ms_best", 1),
            f"one hash {_fmt(hash_ms, 1)}",
            "–",
            "–",
        ],
    ]


def section(r: dict[str, Any], meta: dict[str, Any]) -> str:
    head = ["workload", "SQLite", "PostgreSQL + Redis", "ceiling", "target", "result"]
    lines = [
        BEGIN,
        "## OpenID Connect provider: code round trips, token latency, refresh cost",
        "",
        "`signin serve --workers 1` on SQLite and on PostgreSQL + Redis, both up, loaded one at",
        "a time, rounds alternating; each keeps its best rate and its lowest CPU per operation",
        "and p99 (outside load only slows). 8 clients (O1 alone: 1); one confidential client",
        "(`client_secret_basic`, PKCE S256, consent skipped). O1 and O2 hash no password (the",
        "person is signed in already); O3 adds one argon2id sign-in at the bench cost (t=2,",
        "m=19456 KiB) and is set beside W0, the raw argon2id verifications/s with 2 threads",
        "measured between the rounds. How: `bench/oidc.py`.",
        "",
        _row(head),
        _row(["---"] * len(head)),
        *(_row(cells) for cells in rows(r)),
        "",
        f"- command: `{meta['command']}`, started {meta['started']}, took {meta['minutes']} min",
        f"- machine: {meta['cores']} cores, {meta['cpu']}, Python {meta['python']}; load average"
        f" at the end {meta['loadavg_at_end']}. Other work on the same 2 cores (a load average"
        " above 1 says there was some) lowers rates and raises latencies; CPU per operation"
        " moves much less.",
        f"- rounds: {meta['plan']['rounds']} × {meta['plan']['signin_s']} s per workload and"
        " server; raw numbers in `bench/.work/oidc.json` (CPU of every round in `cpu_ms_rounds`)",
        "",
    ]
    findings = BENCH / "FINDINGS-oidc.md"
    if findings.exists():
        lines += [findings.read_text().rstrip(), ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], meta: dict[str, Any]) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    old = kept_section(BEGIN, END)
    new = section(results, meta)
    RESULTS.write_text(text.replace(old, new) if old else text.rstrip() + "\n\n" + new)
