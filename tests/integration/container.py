"""podman for the container tests: the settings this host needs, the image, throwaway containers.

The image is built from the real Containerfile under a fixed tag, so podman's layer cache makes a
rebuild after a source change take seconds; each test's containers and volumes get names of their
own and are removed however the test ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import REPO, need

IMAGE = "localhost/signin:test"
BUILD_STAGE = "localhost/signin:test-build"  # the Containerfile's first stage: the layer cache
BASE = "docker.io/library/debian:bookworm-slim"  # the Containerfile's FROM
CONF = REPO / "tools" / "containers.conf"
BUILD_SECONDS = 900  # a cold build downloads the dependencies; a cached one takes seconds
# The official caddy, postgres and redis images cannot be pulled here: Debian's packages, laid
# out and started as those images are, stand in for them (standins/).
STANDINS = {
    "caddy": "localhost/signin-test-caddy:2.6",
    "postgres": "localhost/signin-test-postgres:16",
    "redis": "localhost/signin-test-redis:7",
}
STANDIN_DIR = Path(__file__).with_name("standins")
COMPOSE = Path(sys.executable).with_name("podman-compose")  # the dev extra's
EXAMPLES = REPO / "docs" / "examples"


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONF))}


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env=podman_env()
    )
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done


def need_podman() -> None:
    """Skip (or fail under SIGNIN_REQUIRE_ALL=1) without podman, runc or the base image."""
    need(shutil.which("podman") is not None, "podman (apt-get install podman runc)")
    need(shutil.which("runc") is not None, "runc (apt-get install runc)")
    has_base = podman("image", "exists", BASE, check=False).returncode == 0
    need(has_base, f"the base image {BASE} (pull it, or make it: tools/container-base.sh)")


def build_image() -> str:
    """Build the Containerfile as it is, its build stage under a tag of its own too.

    Both tags move to the new images; the images they named before are removed when nothing
    uses them any more, so repeated runs leave no pile of untagged images, while the stage
    tag keeps the dependency layers cached for the next run.
    """
    args = ["build", "--format", "docker", "--file", "Containerfile"]
    cert = os.environ.get("PIP_CERT")
    if cert and Path(cert).is_file():  # a proxy that re-signs TLS: pip in the build trusts it too
        args += ["--volume", f"{cert}:/run/pip-cert.pem:ro"]
        args += ["--build-arg", "PIP_CERT=/run/pip-cert.pem"]
    for tag, target in ((BUILD_STAGE, ["--target", "build"]), (IMAGE, [])):
        before = image_id(tag)
        done = subprocess.run(
            ["podman", *args, *target, "--tag", tag, str(REPO)],
            capture_output=True,
            text=True,
            timeout=BUILD_SECONDS,
            env=podman_env(),
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        if before and before != image_id(tag):
            podman("image", "rm", before, check=False)  # still used by a container: it stays
    return image_id(IMAGE)


def build_standin(name: str) -> str:
    """A stand-in image (cached after the first build, which installs Debian's package)."""
    tag, file = STANDINS[name], STANDIN_DIR / f"{name}.Containerfile"
    before = image_id(tag)
    podman("build", "--format", "docker", "--tag", tag, "--file", str(file), str(STANDIN_DIR),
           timeout=BUILD_SECONDS)  # fmt: skip
    if before and before != image_id(tag):
        podman("image", "rm", before, check=False)
    return tag


@contextmanager
def compose_up(file: str, override: Path, env: dict[str, str]) -> Iterator[str]:
    """`podman-compose up -d` of docs/examples/FILE with OVERRIDE on top, under a project name
    of its own (yielded); `down -v` afterwards removes its containers, network and volumes."""
    project = unique("signin-test")
    compose = [str(COMPOSE), "-p", project, "-f", file, "-f", str(override)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*compose, *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=180,
            env={**podman_env(), **env},
        )  # fmt: skip

    try:
        up = run("up", "-d")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield project
    finally:
        run("down", "-v", "-t", "20")


def wait_answers(client: httpx.Client, path: str, name: str, seconds: float = 90) -> None:
    """Until PATH answers 200 through the proxy container NAME (which may not listen yet)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, logs(name)
        time.sleep(0.5)


def image_id(tag: str) -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextmanager
def removed_afterwards(containers: list[str], volumes: list[str]) -> Iterator[None]:
    try:
        yield
    finally:
        for name in containers:
            podman("rm", "--force", "--time", "0", name, check=False)
        for name in volumes:
            podman("volume", "rm", "--force", name, check=False)


def wait_healthy(base: str, name: str, seconds: float = 60) -> None:
    """Until /healthz answers 200 through the published port; fail early if the container died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        assert state == "running", f"container {state}:\n{logs(name)}"
        time.sleep(0.3)
    raise AssertionError(f"no 200 from {base}/healthz in {seconds} s:\n{logs(name)}")


def logs(name: str) -> str:
    done = podman("logs", name, check=False)
    return (done.stdout + done.stderr)[-4000:]
