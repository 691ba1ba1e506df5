"""Start, watch and stop the servers under test: one worker each, on 127.0.0.1 only.

Every server runs in its own process group, so stopping it also stops whatever it spawned
(gunicorn's worker, uvicorn's reloader-free child). Its PID goes to `bench/.work/pids` the moment
it starts, so `run.sh`'s trap can stop it even when this driver is killed.
CPU time is read from the kernel's accounting of the server's own processes (psutil), never
estimated from wall time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
PIDS = WORK / "pids"
HOST = "127.0.0.1"


def fresh_dir(path: Path) -> Path:
    """`path` as a new, empty directory."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: list[str]
    probe: str
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        WORK.mkdir(exist_ok=True)
        log = (WORK / f"{self.name}.log").open("wb")
        argv = [part.replace("{port}", str(self.port)) for part in self.argv]
        self.proc = subprocess.Popen(
            argv,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with PIDS.open("a") as pids:
            pids.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {log.name}")
            try:
                if httpx.get(self.base + self.probe, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s")

    def processes(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes (all threads) so far."""
        total = 0.0
        for process in self.processes():
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def worker_pid(self) -> int:
        """The process that serves requests (gunicorn's worker, else the server itself)."""
        processes = self.processes()
        return processes[-1].pid if processes else 0

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None


def venv_bin(venv: Path, tool: str) -> str:
    return str(venv / "bin" / tool)


SIGNIN_VENV = ROOT / ".venv"
UVICORN_FLAGS = [
    "--host",
    HOST,
    "--port",
    "{port}",
    "--workers",
    "1",
    "--no-proxy-headers",
    "--no-access-log",
    "--no-server-header",
]


def signin_server(
    data_dir: Path, extra_env: dict[str, str], *, workers: int = 1, name: str = "signin"
) -> Server:
    env = {
        "SIGNIN_DATA_DIR": str(data_dir),
        "SIGNIN_COOKIE_SECURE": "false",
        "SIGNIN_ARGON2_TIME_COST": "2",
        "SIGNIN_ARGON2_MEMORY_KIB": "19456",
        "SIGNIN_ARGON2_PARALLELISM": "1",
        # Every bench client signs up from 127.0.0.1: the per-IP sign-up limit (20 an hour)
        # would answer 429 to the bench's own users.
        "SIGNIN_SIGNUP_LIMIT_PER_IP": "1000000",
        **extra_env,
    }
    argv = [venv_bin(SIGNIN_VENV, "signin"), "serve", "--host", HOST, "--port", "{port}"]
    return Server(name, [*argv, "--workers", str(workers)], "/healthz", env=env)


def floor_server() -> Server:
    argv = [venv_bin(SIGNIN_VENV, "uvicorn"), "floor_app:app", *UVICORN_FLAGS]
    return Server("floor", argv, "/api/v1/session", cwd=BENCH)


def raw_asgi_server() -> Server:
    argv = [venv_bin(SIGNIN_VENV, "uvicorn"), "raw_asgi:app", *UVICORN_FLAGS]
    return Server("raw-asgi", argv, "/api/v1/session", cwd=BENCH)


def fastapi_users_server(db: Path) -> Server:
    venv = BENCH / ".venv-fastapi-users"
    argv = [venv_bin(venv, "uvicorn"), "fastapi_users_app:app", *UVICORN_FLAGS]
    return Server("fastapi-users", argv, "/docs", cwd=BENCH / "peers", env={"FU_DB": str(db)})


def django_server(db: Path) -> Server:
    venv = BENCH / ".venv-django"
    subprocess.run(
        [venv_bin(venv, "python"), "django_app.py", "migrate", "-v0"],
        cwd=BENCH / "peers",
        env={**os.environ, "DJ_DB": str(db)},
        check=True,
    )
    argv = [
        venv_bin(venv, "gunicorn"),
        "--workers",
        "1",
        "--worker-class",
        "sync",
        "--bind",
        f"{HOST}:{{port}}",
        "--control-socket",
        str(WORK / "gunicorn.ctl"),
        "django_app:application",
    ]
    return Server("django", argv, "/me", cwd=BENCH / "peers", env={"DJ_DB": str(db)})
