"""The container image, built from the Containerfile and run with podman, as a self-hoster would.

Needs podman and runc, and the base image the Containerfile names (pulled, or made without a
registry by tools/container-base.sh, which .ci/run calls). The first build downloads the
dependencies (a few minutes); later builds reuse podman's layer cache.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.container import (
    COMPOSE,
    IMAGE,
    STANDINS,
    build_image,
    build_standin,
    compose_up,
    logs,
    need_podman,
    podman,
    removed_afterwards,
    unique,
    wait_answers,
    wait_healthy,
)
from tests.support import CHEAP_ARGON2_ENV, free_port, need

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


CHEAP = "".join(f"      {key}: '{value}'\n" for key, value in CHEAP_ARGON2_ENV.items())


def proxy_override(port: int) -> str:
    """The test machine's changes to Caddy: the stand-in, a loopback port, plain http for the
    site (no certificate can be had here). The compose files stay as they are."""
    return f"""  caddy:
    image: {STANDINS["caddy"]}
    ports: !override ["127.0.0.1:{port}:80"]
    environment:
      SIGNIN_SITE: http://auth.example.com
"""


def invite(container: str) -> str:
    (token,) = re.findall(
        r"invite=([\w-]+)", podman("exec", container, "signin", "invites", "create").stdout
    )
    return token


def site(port: int) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Host": "auth.example.com"}, timeout=15
    )


def test_compose_yaml_runs_signin_behind_caddy(image: str, tmp_path: Path) -> None:
    """docs/examples/compose.yaml up: invite-only sign-up and sign-in through Caddy, signin
    read-only and non-root, and the client's address (not Caddy's) in the audit log."""
    need(COMPOSE.exists(), "podman-compose (pip install -e '.[dev]')")
    build_standin("caddy")
    port, override = free_port(), tmp_path / "override.yaml"
    signin = f"    image: {IMAGE}\n    environment:\n{CHEAP}"
    override.write_text(f"services:\n  signin:\n{signin}" + proxy_override(port))
    with compose_up("compose.yaml", override, {}) as project, site(port) as client:
        signin, caddy = f"{project}_signin_1", f"{project}_caddy_1"
        wait_answers(client, "/healthz", caddy)
        account = {"username": "composed", "password": PASSWORD}
        assert client.post("/api/v1/users", json=account).status_code == 403  # invite only
        made = client.post("/api/v1/users", json={**account, "invite": invite(signin)})
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


SESSION_CHECK = """import sys, urllib.request
request = urllib.request.Request(
    "http://127.0.0.1:8000/api/v1/session", headers={"Authorization": "Bearer " + sys.argv[1]})
print(urllib.request.urlopen(request, timeout=10).read().decode())"""


def test_compose_scale_yaml_runs_two_replicas_on_postgresql_and_redis(
    image: str, tmp_path: Path
) -> None:
    """docs/examples/compose.scale.yaml up (PostgreSQL and Redis stand-ins): an account made
    through Caddy, and a session issued by either replica, are known to both."""
    need(COMPOSE.exists(), "podman-compose (pip install -e '.[dev]')")
    for name in STANDINS:
        build_standin(name)
    port, override = free_port(), tmp_path / "override.yaml"
    replica = f"    image: {IMAGE}\n    environment:\n{CHEAP}"
    override.write_text(
        f"services:\n  signin-1:\n{replica}  signin-2:\n{replica}"
        f"  postgres:\n    image: {STANDINS['postgres']}\n"
        f"  redis:\n    image: {STANDINS['redis']}\n" + proxy_override(port)
    )
    env = {
        "SIGNIN_SECRET_KEY": secrets.token_urlsafe(48),
        "POSTGRES_PASSWORD": secrets.token_hex(16),
    }
    with compose_up("compose.scale.yaml", override, env) as project, site(port) as client:
        replicas = [f"{project}_signin-{n}_1" for n in (1, 2)]
        # Without health-check conditions (podman < 4.6) a replica may start before PostgreSQL
        # answers; it exits with one line and `restart: unless-stopped` starts it again.
        wait_answers(client, "/healthz", f"{project}_caddy_1")
        account = {"username": "scaled", "password": PASSWORD}
        made = client.post("/api/v1/users", json={**account, "invite": invite(replicas[1])})
        assert made.status_code == 201, made.text
        session = client.post("/api/v1/session", json=account)
        assert session.status_code == 201, session.text
        for name in replicas:
            wait_healthy_inside(name)
            seen = podman("exec", name, "python3", "-c", SESSION_CHECK, session.json()["token"])
            assert json.loads(seen.stdout)["username"] == "scaled"
        keys = podman("exec", f"{project}_redis_1", "redis-cli", "dbsize").stdout
        assert int(keys) > 0  # the sessions and locks live in Redis


def wait_healthy_inside(name: str, seconds: float = 60) -> None:
    """The image's own health check passes in container NAME (a replica may be restarting)."""
    deadline = time.monotonic() + seconds
    while podman("healthcheck", "run", name, check=False).returncode != 0:
        assert time.monotonic() < deadline, logs(name)
        time.sleep(1)
