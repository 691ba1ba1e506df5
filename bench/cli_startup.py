"""How long a `signin` command takes as a whole process (issue 27): `--help`, `users list` and
`locks list` on SQLite, against the targets 0.3 s, 0.8 s and 0.8 s.

Each command runs `--warmup` times unmeasured, then up to `--runs` times (at most `--budget`
seconds per command); the table shows the best and the median wall time and the median CPU
time (user + system, of the process and its children). The medians are the figures to quote:
the machine is shared, and other work only ever slows a run down. CPU time moves less with
outside load than wall time does.

The data directory is a fresh one, initialised (`signin db upgrade`) and given a few accounts
and fail-lock counters. Bytecode caches are written and used (PYTHONDONTWRITEBYTECODE is
dropped), as for an installed package. `--src DIR` measures another checkout's `src/` with the
same interpreter (for a before/after comparison). Nothing is asserted; numbers go to
bench/RESULTS.md (CLI start-up section of bench/FINDINGS.md) by hand.

    .venv/bin/python bench/cli_startup.py            # or: bench/run.sh --cli
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHEAP_ARGON2 = {
    "SIGNIN_ARGON2_TIME_COST": "1",
    "SIGNIN_ARGON2_MEMORY_KIB": "1024",
    "SIGNIN_ARGON2_PARALLELISM": "1",
}
COMMANDS = (  # (arguments, target seconds)
    (("--help",), 0.3),
    (("users", "list"), 0.8),
    (("locks", "list"), 0.8),
)
USERS = 10
LOCKS = (("alice", 5), ("bob", 2), ("IP:192.0.2.7", 20), ("IP:192.0.2.8", 3))


def child_env(data_dir: Path, src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNIN_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(CHEAP_ARGON2, SIGNIN_DATA_DIR=str(data_dir), COLUMNS="120")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def signin(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "signin", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        sys.exit(f"signin {' '.join(args)} failed: {done.stderr.strip()}")


def prepare(env: dict[str, str], data_dir: Path) -> None:
    signin(env, "db", "upgrade")
    for number in range(USERS):
        name = f"user{number:02d}"
        signin(env, "users", "create", name, "--email", f"{name}@example.org", stdin="pw-" * 6)
    now = time.time()
    with sqlite3.connect(data_dir / "signin.db") as conn:
        conn.executemany(
            "INSERT INTO fail_locks (key, failures, last_attempt) VALUES (?, ?, ?)",
            [(key, failures, now) for key, failures in LOCKS],
        )


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, timeout=120)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.decode(errors='replace').strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(
    command: list[str], env: dict[str, str], warmup: int, runs: int, budget: float
) -> list[tuple[float, float]]:
    for _ in range(warmup):
        timed(command, env)
    results: list[tuple[float, float]] = []
    deadline = time.monotonic() + budget
    while len(results) < runs and (len(results) < 3 or time.monotonic() < deadline):
        results.append(timed(command, env))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="measured runs per command (max)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured runs first")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per command (max)")
    parser.add_argument("--src", type=Path, help="measure this src/ instead of the installed one")
    parser.add_argument(
        "--signin", type=Path, default=ROOT / ".venv" / "bin" / "signin", help="the entry point"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="signin-cli-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        env = child_env(data_dir, args.src)
        prepare(env, data_dir)
        # With --src, the console script would import the installed package: run the module.
        base = [sys.executable, "-m", "signin"] if args.src else [str(args.signin)]
        load_before = os.getloadavg()
        rows = []
        for command, target in COMMANDS:
            results = measure([*base, *command], env, args.warmup, args.runs, args.budget)
            walls = [wall for wall, _ in results]
            median = statistics.median(walls)
            cpu = statistics.median(cpu for _, cpu in results)
            verdict = "pass" if median < target else "FAIL"
            name = f"signin {' '.join(command)}"
            rows.append((name, min(walls), median, cpu, len(walls), target, verdict))
        load_after = os.getloadavg()
    print(f"signin start-up, {'src: ' + str(args.src) if args.src else args.signin}")
    print(
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after;"
        f" {os.cpu_count()} cores, shared with other work"
    )
    print()
    print("| command | best s | median s | median CPU s | runs | target s | median |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, best, median, cpu, runs, target, verdict in rows:
        cells = (f"`{name}`", f"{best:.3f}", f"{median:.3f}", f"{cpu:.3f}", runs, f"< {target}")
        print("| " + " | ".join(map(str, (*cells, verdict))) + " |")


if __name__ == "__main__":
    main()
