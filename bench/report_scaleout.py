"""The scale-out section of bench/RESULTS.md, from `bench/run.sh --scale-out` (bench/scaleout.py).

It sits between two markers; a full run (report.write) keeps it, and a scale-out run replaces
only it. The findings under it are written by hand in bench/FINDINGS-scaleout.md.
"""

from __future__ import annotations

from typing import Any

from report import BEGIN_SCALE_OUT as BEGIN
from report import END_SCALE_OUT as END
from report import RESULTS, _fmt, _get, _row, kept_scale_out
from servers import BENCH


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("**pass**" if ok else "**FAIL**")


def ratio(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top and bottom else None


def backend_rows(r: dict[str, Any]) -> list[list[str]]:
    g = lambda *p: _get(r, *p)  # noqa: E731
    rows: list[list[str]] = []
    for check, title in (("W1", "W1 session checks/s"), ("FA", "forward-auth checks/s")):
        rate = {name: g(name, check, "rate") for name in ("sqlite", "pg", "pg-redis")}
        p99 = {name: g(name, check, "p99_best_ms") for name in ("sqlite", "pg", "pg-redis")}
        cpu = {name: g(name, check, "cpu_ms") for name in ("sqlite", "pg", "pg-redis")}
        share = ratio(rate["pg-redis"], rate["sqlite"])
        rows.append(
            [
                f"{title} (32 connections)",
                *(_fmt(rate[n]) for n in rate),
                _fmt(share, 2),
                ">= 0.5",
                verdict(None if share is None else share >= 0.5),
            ]
        )
        rows.append(
            [
                f"{check} p99 ms (lowest of the rounds)",
                *(_fmt(p99[n], 1) for n in p99),
                "–",
                "< 20 ms (PG + Redis)",
                verdict(None if p99["pg-redis"] is None else p99["pg-redis"] < 20),
            ]
        )
        cpu_share = ratio(cpu["pg-redis"], cpu["sqlite"])
        rows.append(
            [
                f"{check} server CPU ms/check",
                *(_fmt(cpu[n], 3) for n in cpu),
                f"{_fmt(cpu_share, 2)} (CPU)",
                "<= 2 × SQLite",
                verdict(_at_most(cpu_share, 2)),
            ]
        )
    hash_ms = g("ceiling", "W0_1", "cpu_ms")
    rows.append(
        [
            f"W2 valid sign-ins/s (server CPU ms each; one hash alone: {_fmt(hash_ms, 1)})",
            f"{_fmt(g('sqlite', 'W2', 'rate'), 1)} ({_fmt(g('sqlite', 'W2', 'cpu_ms'), 1)})",
            "–",
            f"{_fmt(g('pg-redis', 'W2', 'rate'), 1)} ({_fmt(g('pg-redis', 'W2', 'cpu_ms'), 1)})",
            "–",
            "–",
            "–",
        ]
    )
    beyond = {name: g(name, "W2_cheap_hash", "cpu_ms") for name in ("sqlite", "pg-redis")}
    rows.append(
        [
            "W2 server CPU ms/sign-in beyond its hash (argon2id at 8 KiB, t=1)",
            _fmt(beyond["sqlite"], 2),
            "–",
            _fmt(beyond["pg-redis"], 2),
            _fmt(ratio(beyond["pg-redis"], beyond["sqlite"]), 2),
            "<= 4 ms",
            verdict(_at_most(beyond["pg-redis"], 4)),
        ]
    )
    w3 = {name: g(name, "W3", "rate") for name in ("sqlite", "pg-redis")}
    rows.append(
        [
            "W3 checks/s under a wrong-password flood (p99 ms)",
            f"{_fmt(w3['sqlite'])} ({_fmt(g('sqlite', 'W3', 'p99_ms'), 1)})",
            "–",
            f"{_fmt(w3['pg-redis'])} ({_fmt(g('pg-redis', 'W3', 'p99_ms'), 1)})",
            _fmt(ratio(w3["pg-redis"], w3["sqlite"]), 2),
            "–",
            "–",
        ]
    )
    return rows


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def section(r: dict[str, Any], meta: dict[str, Any]) -> str:
    g = lambda *p: _get(r, *p)  # noqa: E731
    head = ["workload", "SQLite", "PostgreSQL", "PostgreSQL + Redis", "ratio", "target", "result"]
    one, two = g("pg-redis", "W1", "rate"), g("pg-redis-w2", "W1", "rate")
    raw = g("raw-asgi", "W1", "rate")
    lines = [
        BEGIN,
        "## Scale-out: PostgreSQL + Redis beside SQLite",
        "",
        "One `signin serve --workers 1` per backend, all up at once and loaded one at a time,",
        "rounds alternating (the best rate and the lowest p99 of each: outside load only slows);",
        "ratio = PostgreSQL + Redis ÷ SQLite, measured in the same run.",
        "",
        _row(head),
        _row(["---"] * len(head)),
        *(_row(cells) for cells in backend_rows(r)),
        "",
        "Two processes behind one port (`signin serve --workers 2`) against one, on PostgreSQL +"
        " Redis:",
        "",
        _row(["session checks/s (32 connections)", "--workers 1", "--workers 2", "ratio"]),
        _row(["---"] * 4),
        _row(["rate", _fmt(one), _fmt(two), _fmt(ratio(two, one), 2)]),
        _row(
            [
                "p99 ms",
                _fmt(g("pg-redis", "W1", "p99_best_ms"), 1),
                _fmt(g("pg-redis-w2", "W1", "p99_best_ms"), 1),
                "–",
            ]
        ),
        "",
        "Stretch: a session check against a raw ASGI app (`bench/raw_asgi.py`, no framework)"
        " on the same uvicorn settings:",
        "",
        _row(["", "raw ASGI", "signin, SQLite", "signin, PostgreSQL + Redis", "target"]),
        _row(["---"] * 5),
        _row(["checks/s", _fmt(raw), _fmt(g("sqlite", "W1", "rate")), _fmt(one), "–"]),
        _row(
            [
                "ratio to raw ASGI",
                "1.00",
                _fmt(ratio(g("sqlite", "W1", "rate"), raw), 2),
                _fmt(ratio(one, raw), 2),
                ">= 0.5",
            ]
        ),
        _row(
            [
                "server CPU ms/request",
                _fmt(g("raw-asgi", "W1", "cpu_ms"), 3),
                _fmt(g("sqlite", "W1", "cpu_ms"), 3),
                _fmt(g("pg-redis", "W1", "cpu_ms"), 3),
                "–",
            ]
        ),
        "",
        f"- command: `{meta['command']}`, started {meta['started']}, took {meta['minutes']} min",
        f"- machine: {meta['cores']} cores, {meta['cpu']}, Python {meta['python']}; load average"
        f" at the end {meta['loadavg_at_end']} (shared: other engineers' tests ran meanwhile)",
        f"- rounds: {meta['plan']['rounds']} × {meta['plan']['read_s']} s per check and server;"
        " raw numbers in `bench/.work/scaleout.json`",
        "",
    ]
    findings = BENCH / "FINDINGS-scaleout.md"
    if findings.exists():
        lines.append(findings.read_text().rstrip())
    lines.append(END)
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], meta: dict[str, Any]) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    old = kept_scale_out()
    new = section(results, meta)
    RESULTS.write_text(text.replace(old, new) if old else text.rstrip() + "\n\n" + new)
