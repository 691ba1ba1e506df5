"""Turn the numbers into bench/RESULTS.md (table, command, machine notes, findings) and a chart.

The findings are written by hand in bench/FINDINGS.md and copied in verbatim, so re-running the
bench refreshes the numbers without losing the analysis.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from servers import BENCH
from workloads import Plan

PEERS = ("fastapi-users", "django")
COLORS = {"signin": "#2b6cb0", "fastapi-users": "#dd6b20", "django": "#2f855a", "floor": "#718096"}


def machine_notes(command: str, plan: Plan, started: float, ended: float) -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "minutes": round((ended - started) / 60, 1),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_end": [round(x, 2) for x in load],
        "plan": asdict(plan),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _fmt(value: Any, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{unit}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per workload: signin, peers, ceiling/floor, ratio, target, pass/fail."""
    g = lambda *p: _get(results, *p)  # noqa: E731
    w0_1, w0_2 = g("ceiling", "W0_1", "per_second"), g("ceiling", "W0_2", "per_second")
    floor = g("floor", "W1", "rate")
    out: list[list[str]] = []

    def verdict(ok: bool | None) -> str:
        return "–" if ok is None else ("**pass**" if ok else "**FAIL**")

    out.append(
        [
            "W0 argon2id verifications/s (1 / 2 threads)",
            "–",
            "–",
            "–",
            f"{_fmt(w0_1, 1)} / {_fmt(w0_2, 1)}",
            _fmt(w0_2 / w0_1 if w0_1 and w0_2 else None, 2),
            "ceiling",
            "–",
        ]
    )

    def peer_cells(key: str, digits: int = 0) -> list[str]:
        return [_fmt(g(peer, *key.split(".")), digits) for peer in PEERS]

    w1 = g("signin", "W1", "rate")
    ratio1 = w1 / floor if w1 and floor else None
    out.append(
        [
            "W1 session checks/s",
            _fmt(w1),
            *peer_cells("W1.rate"),
            f"floor {_fmt(floor)}",
            _fmt(ratio1, 2),
            ">= 0.75 × floor",
            verdict(None if ratio1 is None else ratio1 >= 0.75),
        ]
    )
    out.append(
        [
            "W1 server CPU ms/check",
            _fmt(g("signin", "W1", "cpu_ms"), 2),
            *peer_cells("W1.cpu_ms", 2),
            f"floor {_fmt(g('floor', 'W1', 'cpu_ms'), 2)}",
            "–",
            "–",
            "–",
        ]
    )
    w2 = g("signin", "W2", "rate")
    ratio2 = w2 / w0_2 if w2 and w0_2 else None
    out.append(
        [
            "W2 valid sign-ins/s",
            _fmt(w2, 1),
            *peer_cells("W2.rate", 1),
            f"W0×2 {_fmt(w0_2, 1)}",
            _fmt(ratio2, 2),
            ">= 0.9 × W0 (2 threads)",
            verdict(None if ratio2 is None else ratio2 >= 0.9),
        ]
    )
    out.append(
        [
            "W2 server CPU ms/sign-in",
            _fmt(g("signin", "W2", "cpu_ms"), 1),
            *peer_cells("W2.cpu_ms", 1),
            f"W0 {_fmt(g('ceiling', 'W0_1', 'cpu_ms'), 1)}",
            "–",
            "–",
            "–",
        ]
    )
    w3, w3p99 = g("signin", "W3", "rate"), g("signin", "W3", "p99_ms")
    ratio3 = w3 / w1 if w3 and w1 else None
    ok3 = None if ratio3 is None or w3p99 is None else ratio3 >= 0.5 and w3p99 <= 50
    out.append(
        [
            "W3 session checks/s under a wrong-password flood",
            _fmt(w3),
            *peer_cells("W3.rate"),
            f"W1 {_fmt(w1)}",
            _fmt(ratio3, 2),
            ">= 0.5 × W1 and p99 <= 50 ms",
            verdict(ok3),
        ]
    )
    out.append(
        [
            "W3 p99 ms of those checks (flood attempts/s)",
            f"{_fmt(w3p99, 1)} ({_fmt(g('signin', 'W3', 'flood_rate'), 1)})",
            *[
                f"{_fmt(g(p, 'W3', 'p99_ms'), 1)} ({_fmt(g(p, 'W3', 'flood_rate'), 1)})"
                for p in PEERS
            ],
            "–",
            "–",
            "<= 50 ms",
            verdict(None if w3p99 is None else w3p99 <= 50),
        ]
    )
    w4 = g("signin", "W4", "cpu_ms")
    out.append(
        [
            "W4 server CPU ms per attempt on a locked username",
            _fmt(w4, 2),
            "–",
            "–",
            f"floor {_fmt(g('floor', 'W1', 'cpu_ms'), 2)}",
            "–",
            "< 1 ms",
            verdict(None if w4 is None else w4 < 1),
        ]
    )
    w5 = g("signin", "W5", "server_errors")
    out.append(
        [
            "W5 5xx + transport errors, 64 clients signing up / in",
            f"{_fmt(w5)} of {_fmt(g('signin', 'W5', 'requests'))}",
            "–",
            "–",
            "–",
            "–",
            "0",
            verdict(None if w5 is None else w5 == 0),
        ]
    )
    return out


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def chart(results: dict[str, Any], path: str) -> None:
    panels = [
        ("W1 session checks/s", "W1", "rate", ("floor", "signin", *PEERS)),
        ("W2 valid sign-ins/s", "W2", "rate", ("signin", *PEERS)),
        ("W3 checks/s under flood", "W3", "rate", ("signin", *PEERS)),
        ("server CPU ms per check (W1)", "W1", "cpu_ms", ("floor", "signin", *PEERS)),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.2))
    for ax, (title, workload, metric, names) in zip(axes, panels, strict=True):
        values = [_get(results, name, workload, metric) or 0.0 for name in names]
        bars = ax.bar(names, values, color=[COLORS[n] for n in names])
        labels = [_label(value) for value in values]
        if workload == "W3":  # the latency target matters as much as the rate here
            p99s = [_get(results, name, "W3", "p99_ms") for name in names]
            labels = [
                f"{label}\np99 {p99:,.0f} ms" if p99 else label
                for label, p99 in zip(labels, p99s, strict=True)
            ]
        ax.bar_label(bars, labels=labels, fontsize=8)
        ax.margins(y=0.2)  # room for two-line labels above the tallest bar
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8, rotation=20)
        if workload == "W2":
            ceiling = _get(results, "ceiling", "W0_2", "per_second")
            if ceiling:
                ax.axhline(ceiling, color="#c53030", linestyle="--", linewidth=1)
                ax.axhline(0.9 * ceiling, color="#c53030", linestyle=":", linewidth=1)
                ax.text(-0.4, ceiling, "W0 ceiling, 2 threads", fontsize=7, va="bottom")
    fig.suptitle("signin vs peers, one worker each, argon2id m=19456 KiB t=2 p=1", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], meta: dict[str, Any]) -> None:
    chart(results, str(BENCH / "results.png"))
    header = ["workload", "signin", *PEERS, "ceiling / floor", "ratio", "target", "pass/fail"]
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bench/bench.py` (do not edit the numbers by hand; the findings below come",
        "from `bench/FINDINGS.md`). Ratios matter more than absolutes: the machine is shared.",
        "",
        _row(header),
        _row(["---"] * len(header)),
        *(_row(cells) for cells in rows(results)),
        "",
        "![chart](results.png)",
        "",
        "## How it was produced",
        "",
        f"- command: `{meta['command']}`, started {meta['started']}, took {meta['minutes']} min",
        f"- machine: {meta['cores']} cores, {meta['cpu']}, Linux {meta['kernel']}, "
        f"Python {meta['python']}; load average at the end {meta['loadavg_at_end']}",
        f"- plan: `{meta['plan']}`",
        "- raw numbers: `bench/.work/results.json` (not committed); server logs beside it",
        "- profiles: `bench/run.sh --profile` writes py-spy flame graphs to `bench/.work/`",
        "- also here: the legacy-import benchmark, [RESULTS-import.md](RESULTS-import.md)"
        " (`bench/import_legacy.py`); forward-auth with 50 access rules, in the findings below"
        " (`bench/access_rules.py`)",
        "",
    ]
    findings = BENCH / "FINDINGS.md"
    if findings.exists():
        lines.append(findings.read_text().rstrip() + "\n")
    (BENCH / "RESULTS.md").write_text("\n".join(lines))
