"""The container image, built from the Containerfile and run with podman, as a self-hoster would.

Needs podman and runc, and the base image the Containerfile names (pulled, or made without a
registry by tools/container-base.sh, which .ci/run calls). The first build downloads the
dependencies (a few minutes); later builds reuse podman's layer cache.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.container import (
    CADDY,
    COMPOSE,
    IMAGE,
    build_caddy,
    build_image,
    logs,
    need_podman,
    podman,
    podman_env,
    removed_afterwards,
    unique,
    wait_healthy,
)
from tests.support import CHEAP_ARGON2_ENV, REPO, free_port, need

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
STOP_SECONDS = 20  # podman's grace before SIGKILL; a clean stop takes far less
UID = 10001  # the image's user (Containerfile)


@pytest.fixture(scope="module")
def image() -> str:
    need_podman()
    return build_image()


def run_args(name: str, volume: str, port: int) -> list[str]:
    """`podman run` as docs/deploy.md says, with nothing writable but /data (no tmpfs either)."""
    env = [f"--env={key}={value}" for key, value in CHEAP_ARGON2_ENV.items()]
    return [
        "run",
        "--detach",
        f"--name={name}",
        "--read-only",
        "--read-only-tmpfs=false",
        f"--volume={volume}:/data",
        f"--publish=127.0.0.1:{port}:8000",
        *env,
        IMAGE,
    ]


def sign_in(base: str, agent: str) -> httpx.Response:
    return httpx.post(
        base + "/api/v1/session",
        json={"username": "boxed", "password": PASSWORD},
        headers={"User-Agent": agent},
        timeout=15,
    )


def test_the_image_keeps_accounts_across_restarts_and_stops_cleanly(image: str) -> None:
    """Sign-up and sign-in through the published port; the account and the session survive
    `podman restart`; SIGTERM stops it in time, with the audit rows written and no WAL left."""
    name, volume, port = unique("signin-test"), unique("signin-test-data"), free_port()
    base, agent = f"http://127.0.0.1:{port}", unique("container-test")
    with removed_afterwards([name], [volume]):
        podman(*run_args(name, volume, port))
        wait_healthy(base, name)
        health = podman("healthcheck", "run", name, check=False)  # the image's HEALTHCHECK
        assert health.returncode == 0, health.stdout + health.stderr

        made = httpx.post(
            base + "/api/v1/users",
            json={"username": "boxed", "password": PASSWORD},
            headers={"User-Agent": agent},
            timeout=15,
        )
        assert made.status_code == 201, made.text
        first = sign_in(base, agent)
        assert first.status_code == 201, first.text
        token = first.json()["token"]

        podman("restart", f"--time={STOP_SECONDS}", name, timeout=STOP_SECONDS + 30)
        wait_healthy(base, name)
        kept = httpx.get(
            base + "/api/v1/session", headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
        assert kept.status_code == 200, kept.text  # same database, same secret key
        assert kept.json()["username"] == "boxed"
        assert sign_in(base, agent).status_code == 201

        started = time.monotonic()
        podman("stop", f"--time={STOP_SECONDS}", name, timeout=STOP_SECONDS + 30)
        took = time.monotonic() - started
        state = json.loads(podman("inspect", "--format", "{{json .State}}", name).stdout)
        output = logs(name)
        # uvicorn re-raises SIGTERM after its shutdown, which ends signin; tini passes on
        # 143 (128 + SIGTERM). Killed after the grace it would be 137.
        assert state["ExitCode"] == 143, output
        assert took < STOP_SECONDS - 5, f"stopping took {took:.1f} s:\n{output}"
        assert output.count("Application shutdown complete") == 2, output  # restart and stop

        mount = podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume)
        data = Path(mount.stdout.strip())
        wal = data / "signin.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed on the way out
        assert (data / "secret.key").stat().st_uid == UID
        assert (data / "secret.key").stat().st_mode & 0o077 == 0
        with sqlite3.connect(f"file:{data / 'signin.db'}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT type FROM audit_events WHERE user_agent = ? ORDER BY id", (agent,)
            ).fetchall()
        assert [row[0] for row in rows] == ["sign_up", "sign_in", "sign_in"]


def test_the_image_runs_as_a_user_that_can_write_only_data(image: str) -> None:
    """tini as PID 1 with signin under it, both non-root; nothing writable but /data."""
    name, volume, port = unique("signin-test"), unique("signin-test-data"), free_port()
    with removed_afterwards([name], [volume]):
        podman(*run_args(name, volume, port))
        wait_healthy(f"http://127.0.0.1:{port}", name)

        assert podman("exec", name, "id", "-u").stdout.strip() == str(UID)
        init = podman("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")
        assert init[:3] == ["/usr/bin/tini", "--", "signin"], init  # hands signals on
        (child,) = podman("exec", name, "cat", "/proc/1/task/1/children").stdout.split()
        for pid in ("1", child):
            status = podman("exec", name, "cat", f"/proc/{pid}/status").stdout
            uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
            assert uids.split()[1:] == [str(UID)] * 4  # real, effective, saved, filesystem
        cmdline = podman("exec", name, "cat", f"/proc/{child}/cmdline").stdout.split("\0")
        assert cmdline[1:3] == ["/opt/signin/bin/signin", "serve"], cmdline

        # Every path the server's user may write, as the kernel answers access(W_OK) (a
        # read-only mount says no): /data and what signin made in it, nothing else. /dev is
        # the runtime's (its device nodes, and /dev/shm, a tmpfs every container has); find
        # also names the root-only folders it may not enter, so its status is not checked.
        found = podman(
            "exec", name, "find", "/", "(", "-path", "/proc", "-o", "-path", "/sys", "-o",
            "-path", "/dev", ")", "-prune", "-o", "-writable", "-print", check=False,
        ).stdout.split()  # fmt: skip
        outside = [path for path in found if path != "/data" and not path.startswith("/data/")]
        assert outside == [], found
        assert "/data/signin.db" in found, found
        for path in ("/probe", "/opt/signin/probe", "/tmp/probe", "/etc/probe"):
            refused = podman("exec", name, "touch", path, check=False)
            assert refused.returncode != 0, path
        podman("exec", name, "touch", "/data/probe")


def test_the_image_carries_no_secret_and_says_how_to_run(image: str) -> None:
    """Image metadata: non-root user, the /data volume, the health check, no secret in it."""
    (config,) = json.loads(podman("image", "inspect", IMAGE).stdout)
    settings = config["Config"]
    assert settings["User"] == f"{UID}:{UID}"
    assert "/data" in settings["Volumes"]
    assert settings["Entrypoint"] == ["/usr/bin/tini", "--", "signin"]
    assert settings["Cmd"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    names = {entry.split("=", 1)[0] for entry in settings["Env"]}
    assert "SIGNIN_DATA_DIR" in names
    assert not names & {"SIGNIN_SECRET_KEY", "SIGNIN_SECRET_KEY_FALLBACKS", "PIP_CERT"}
    found = podman(
        "run", "--rm", "--read-only", "--user=0", "--entrypoint=find", IMAGE, "/",
        "(", "-path", "/proc", "-o", "-path", "/sys", ")", "-prune", "-o",
        "(", "-name", "secret.key", "-o", "-name", "*.db", "-o", "-name", ".env", ")", "-print",
    ).stdout.split()  # fmt: skip
    assert found == []


def test_a_stop_during_start_up_is_not_ignored(image: str) -> None:
    """SIGTERM before uvicorn has its handlers (imports, migration) still ends it at once."""
    name, volume = unique("signin-test"), unique("signin-test-data")
    with removed_afterwards([name], [volume]):
        podman(*run_args(name, volume, free_port()))
        started = time.monotonic()
        podman("stop", f"--time={STOP_SECONDS}", name, timeout=STOP_SECONDS + 30)
        took = time.monotonic() - started
        state = json.loads(podman("inspect", "--format", "{{json .State}}", name).stdout)
        assert state["ExitCode"] == 143, logs(name)  # 137: it waited for SIGKILL
        assert took < STOP_SECONDS - 5, f"stopping took {took:.1f} s"


def answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.HTTPError:  # Caddy not listening yet
        return False


def compose_override(port: int) -> str:
    """What the test machine changes in docs/examples/compose.yaml: the images (this build, the
    stand-in Caddy), a loopback port, plain http for the site (no certificate can be had)."""
    argon2 = "".join(f"      {key}: '{value}'\n" for key, value in CHEAP_ARGON2_ENV.items())
    return f"""services:
  signin:
    image: {IMAGE}
    environment:
{argon2}  caddy:
    image: {CADDY}
    ports: !override ["127.0.0.1:{port}:80"]
    environment:
      SIGNIN_SITE: http://auth.example.com
"""


def test_compose_yaml_runs_signin_behind_caddy(image: str, tmp_path: Path) -> None:
    """docs/examples/compose.yaml up: invite-only sign-up and sign-in through Caddy, signin
    read-only and non-root, and the client's address (not Caddy's) in the audit log."""
    need(COMPOSE.exists(), "podman-compose (pip install -e '.[dev]')")
    build_caddy(tmp_path)
    project, port = unique("signin-test"), free_port()
    override = tmp_path / "override.yaml"
    override.write_text(compose_override(port))
    examples = REPO / "docs" / "examples"
    compose = [str(COMPOSE), "-p", project, "-f", "compose.yaml", "-f", str(override)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*compose, *args], cwd=examples, capture_output=True, text=True, timeout=120,
            env=podman_env(),
        )  # fmt: skip

    signin, caddy = f"{project}_signin_1", f"{project}_caddy_1"
    try:
        up = run("up", "-d")
        assert up.returncode == 0, up.stdout + up.stderr
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Host": "auth.example.com"}, timeout=15
        ) as client:
            deadline = time.monotonic() + 60  # Caddy's health check sees signin up within 10 s
            while not answers(client, "/healthz"):
                assert time.monotonic() < deadline, logs(caddy)
                time.sleep(0.5)
            account = {"username": "composed", "password": PASSWORD}
            assert client.post("/api/v1/users", json=account).status_code == 403  # invite only
            link = podman("exec", signin, "signin", "invites", "create").stdout
            (invite,) = re.findall(r"invite=([\w-]+)", link)
            made = client.post("/api/v1/users", json={**account, "invite": invite})
            assert made.status_code == 201, made.text
            assert client.post("/api/v1/session", json=account).status_code == 201

        events = podman("exec", signin, "signin", "audit", "--user", "composed", "--json")
        sign_in = [json.loads(line) for line in events.stdout.splitlines()][-1]
        assert sign_in["type"] == "sign_in"
        networks = podman("inspect", "--format", "{{json .NetworkSettings.Networks}}", caddy)
        (caddy_ip,) = [net["IPAddress"] for net in json.loads(networks.stdout).values()]
        assert sign_in["ip"] not in ("", None, caddy_ip)  # Caddy is trusted: X-Forwarded-For
        (config,) = json.loads(podman("inspect", signin).stdout)
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        assert config["Config"]["User"] == f"{UID}:{UID}"
    finally:
        run("down", "-v", "-t", str(STOP_SECONDS))
