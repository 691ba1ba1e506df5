"""W0: raw argon2id verifications per second at the benchmark cost, with N threads.

Runs in signin's own virtualenv (same argon2-cffi build the server uses) and prints one JSON
line: {"threads", "verifications", "seconds", "per_second", "cpu_ms" (CPU per verification)}.
argon2-cffi releases the GIL while hashing, so threads scale up to the number of free cores.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import argon2

COST = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}


def measure(threads: int, seconds: float) -> dict[str, float]:
    hasher = argon2.PasswordHasher(hash_len=32, salt_len=16, type=argon2.Type.ID, **COST)
    stored = hasher.hash("$1$bench-ceiling$")
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(slot: int) -> None:
        while time.perf_counter() < deadline:
            hasher.verify(stored, "$1$bench-ceiling$")
            counts[slot] += 1

    hasher.verify(stored, "$1$bench-ceiling$")  # warm the allocator before timing
    started = time.perf_counter()
    cpu = time.process_time()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    total = sum(counts)
    return {
        "threads": threads,
        "verifications": total,
        "seconds": wall,
        "per_second": total / wall,
        "cpu_ms": 1000 * cpu / max(1, total),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(json.dumps(measure(args.threads, args.seconds)))


if __name__ == "__main__":
    main()
