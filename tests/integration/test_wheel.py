"""`pip install` from a built wheel, as a new user does: a clean virtualenv, an empty directory.

This is the check that the package carries everything it needs at run time (templates, static
files, migrations, mail templates, the common-password list) and nothing of this checkout.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import CHEAP_ARGON2_ENV, REPO, free_port

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


def run(*args: str | Path, cwd: Path | None = None) -> None:
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_wheel_installs_and_serves_from_an_empty_directory(tmp_path: Path) -> None:
    dist, venv, home = tmp_path / "dist", tmp_path / "venv", tmp_path / "home"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, REPO)
    (wheel,) = dist.glob("signin-*.whl")
    # A clean virtualenv without its own pip (quicker); this pip installs into it.
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", wheel)
    home.mkdir()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNIN_")}
    env.update(CHEAP_ARGON2_ENV)
    server = subprocess.Popen(
        [venv / "bin" / "signin", "serve", "--port", str(port)],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, "signin serve exited"
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=15) as client:
            made = client.post("/api/v1/users", json={"username": "wheel", "password": PASSWORD})
            assert made.status_code == 201, made.text
            session = client.post(
                "/api/v1/session", json={"username": "wheel", "password": PASSWORD}
            )
            assert session.status_code == 201
            assert client.get("/api/v1/session").json()["username"] == "wheel"
            assert "csrf_token" in client.get("/sign-in").text  # templates are in the wheel
            assert client.get("/static/js/password.js").status_code == 200
            assert client.get("/api/docs").status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    key = home / "data" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (home / "data" / "signin.db").exists()
