"""How long `signin import-legacy` takes at the OWASP argon2id cost, beside the raw argon2 ceiling.

    .venv/bin/python bench/import_legacy.py --users 10000

Generates a demo-format `users.database` of N users (SHA-512 pre-hashes, as the demo's browser
sent them), runs the real command (`python -m signin import-legacy`) against a fresh SQLite data
directory, and prints a table: wall time, users per second, and the same number of bare argon2id
hashes run on the same threads (the ceiling no importer can beat on this machine).
Nothing here is asserted; numbers go to bench/RESULTS-import.md by hand.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2


def demo_prehash(username: str, password: str) -> str:
    data = (username + password).encode("ascii")
    return "$1$" + base64.b64encode(hashlib.sha512(data).digest()).decode() + "$"


def make_demo(path: Path, count: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT,"
            " password_hash TEXT)"
        )
        conn.executemany(
            "INSERT INTO users (username, password_hash) VALUES (?, ?)",
            (
                (f"user{n:07d}", demo_prehash(f"user{n:07d}", f"pw-{n}-battery"))
                for n in range(count)
            ),
        )
    conn.close()


def run_import(
    demo: Path, data_dir: Path, cost: dict[str, str], workers: int
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `signin import-legacy` run."""
    env = {**os.environ, "SIGNIN_DATA_DIR": str(data_dir), **cost, "COLUMNS": "100"}
    cpu_before = _children_cpu()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "signin", "import-legacy", str(demo), "--workers", str(workers)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def raw_argon2(count: int, t: int, m: int, p: int, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `count` bare argon2id hashes on `workers` threads."""
    hasher = argon2.PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, type=argon2.Type.ID)
    prehash = demo_prehash("user", "password")
    cpu = time.process_time()
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _n: hasher.hash(prehash), range(count)))
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--time-cost", type=int, default=2)
    parser.add_argument("--memory-kib", type=int, default=19456)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--raw-sample", type=int, default=1000, help="hashes for the ceiling")
    args = parser.parse_args()
    cost = {
        "SIGNIN_ARGON2_TIME_COST": str(args.time_cost),
        "SIGNIN_ARGON2_MEMORY_KIB": str(args.memory_kib),
        "SIGNIN_ARGON2_PARALLELISM": str(args.parallelism),
    }
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="signin-bench-import-") as tmp:
        demo = Path(tmp) / "users.database"
        started = time.perf_counter()
        make_demo(demo, args.users)
        generated = time.perf_counter() - started
        first, first_cpu = run_import(demo, Path(tmp) / "data", cost, args.workers)
        second, _ = run_import(demo, Path(tmp) / "data", cost, args.workers)
        with sqlite3.connect(Path(tmp) / "data" / "signin.db") as conn:
            imported = conn.execute("SELECT count(*) FROM users").fetchone()[0]
        conn.close()
    sample = min(args.raw_sample, args.users)
    raw_wall, raw_cpu = raw_argon2(
        sample, args.time_cost, args.memory_kib, args.parallelism, args.workers
    )
    raw = raw_wall * args.users / sample
    per_user = first / args.users
    print(
        f"argon2id t={args.time_cost} m={args.memory_kib} KiB p={args.parallelism}, "
        f"{args.workers} hashing threads, {os.cpu_count()} cores, python {sys.version.split()[0]}"
    )
    # The cores may be shared: say how busy the machine was, so the numbers can be judged.
    print(f"load average (1 min) before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}")
    rows = [
        ("generate demo file", generated, args.users),
        ("import-legacy (first run)", first, imported),
        ("import-legacy (second run, nothing to do)", second, 0),
        (f"raw argon2id ceiling (from {sample} hashes)", raw, args.users),
    ]
    print(f"{'step':<46}{'seconds':>10}{'users':>10}{'users/s':>10}")
    for name, seconds, users in rows:
        rate = f"{users / seconds:,.0f}" if users else "-"
        print(f"{name:<46}{seconds:>10.1f}{users:>10}{rate:>10}")
    print(f"import / raw ceiling: {first / raw:.2f}x")
    print(f"extrapolated to 100,000 users: {per_user * 100_000 / 60:.1f} min (wall, as measured)")
    # CPU time barely depends on how many other processes share the cores; divided by the
    # threads, it estimates the wall time on otherwise idle cores.
    idle = first_cpu / min(args.workers, os.cpu_count() or 1)
    print(
        f"import CPU time: {first_cpu:.1f} s ({first_cpu / args.users * 1000:.1f} ms per user); "
        f"on {min(args.workers, os.cpu_count() or 1)} idle cores: {idle:.0f} s, "
        f"100,000 users: {idle / args.users * 100_000 / 60:.1f} min"
    )
    print(f"bare argon2id CPU time: {raw_cpu / sample * 1000:.1f} ms per hash")


if __name__ == "__main__":
    main()
