"""Helpers shared by the test tiers: settings, apps, real server processes, required servers."""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from signin.app import create_app
from signin.services import Services, build_services
from signin.settings import Settings
from signin.stores import migrate
from signin.stores.sql.engine import create_engine
from signin.stores.sql.schema import users
from signin.stores.sql.sessions import SqlSessionStore

CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
CHEAP_ARGON2_ENV = {
    "SIGNIN_ARGON2_TIME_COST": "1",
    "SIGNIN_ARGON2_MEMORY_KIB": "1024",
    "SIGNIN_ARGON2_PARALLELISM": "1",
}
S = TypeVar("S", bound=SqlSessionStore)
SQLITE_PREFIX = "sqlite+aiosqlite:///"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
REPO = Path(__file__).resolve().parent.parent


def require_all() -> bool:
    return os.environ.get("SIGNIN_REQUIRE_ALL") == "1"


def need(condition: bool, what: str) -> None:
    """Skip with a visible reason when `what` is missing; fail under SIGNIN_REQUIRE_ALL=1."""
    if condition:
        return
    if require_all():
        pytest.fail(f"{what} is required (SIGNIN_REQUIRE_ALL=1) but missing")
    pytest.skip(f"{what} is missing")


_template: list[Path] = []
_template_lock = threading.Lock()


def sqlite_template() -> Path:
    """An empty SQLite database migrated by Alembic, made once per test process (blocking)."""
    with _template_lock:
        if not _template:
            folder = Path(tempfile.mkdtemp(prefix="signin-template-"))
            atexit.register(shutil.rmtree, folder, True)
            migrate.upgrade(SQLITE_PREFIX + str(folder / "signin.db"))  # checkpoints its WAL
            _template.append(folder / "signin.db")
        return _template[0]


async def migrated(url: str) -> None:
    """The database at `url` at the newest schema; a new SQLite file is a copy of the template.

    As fresh as a migration of its own, without Alembic's cost per test; any other database
    (PostgreSQL, an existing file) is migrated by Alembic.
    """
    path = Path(url[len(SQLITE_PREFIX) :]) if url.startswith(SQLITE_PREFIX) else None
    if path is None or path.exists() or ":" in path.name or "?" in url:
        await asyncio.to_thread(migrate.upgrade, url)
        return
    template = await asyncio.to_thread(sqlite_template)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)


async def sqlite_session_store(
    path: Path,
    cls: type[S] = SqlSessionStore,  # type: ignore[assignment]
) -> S:
    """A session store (`cls`) on a new migrated SQLite file holding one user, id 1, alice."""
    url = f"sqlite+aiosqlite:///{path}"
    await migrated(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            users.insert().values(
                id=1,
                username="alice",
                username_canon="alice",
                password_hash="x",
                created_at=1.0,
                password_changed_at=1.0,
            )
        )
    return cls(engine)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, **CHEAP_ARGON2}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_app(
    settings: Settings, *, services: Services | None = None, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app over httpx's ASGI transport, schema migrated, lifespan run."""
    services = services or build_services(settings)
    await migrated(settings.sqlalchemy_url)
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1)


async def form_post(
    client: httpx.AsyncClient, page: str, data: dict[str, str], action: str | None = None
) -> httpx.Response:
    """GET the form page (for the CSRF cookie and token), then POST `data` to it."""
    got = await client.get(page)
    fields = {"csrf_token": csrf_of(got.text), **data}
    return await client.post(action or page.split("?")[0], data=fields)


def run_signin(
    env: dict[str, str],
    *args: str,
    columns: str | None = "200",
    cwd: Path | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m signin ARGS` as an operator runs it: only the given SIGNIN_* settings apply.

    Inherited SIGNIN_* variables (CI's test settings, a developer's shell) are dropped, cheap
    argon2 is the default, and rich gets `columns` so its tables do not fold (None: rich's own
    default, for tests of what a narrow pipe shows).
    """
    full = {k: v for k, v in os.environ.items() if not k.startswith("SIGNIN_")}
    full.update(CHEAP_ARGON2_ENV)
    if columns is not None:
        full["COLUMNS"] = columns
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "signin", *args],
        env=full,
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
        **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}),
    )


async def on_fresh_connections(
    count: int, method: str, url: str, **kwargs: Any
) -> list[httpx.Response]:
    """`count` requests at once, each on its own connection, so every worker answers some."""

    async def one() -> httpx.Response:
        async with httpx.AsyncClient(headers={"Connection": "close"}) as client:
            response = await client.request(method, url, **kwargs)
            await response.aread()
            return response

    return list(await asyncio.gather(*(one() for _ in range(count))))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A real `signin serve` process on a free loopback port."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 1,
        port: int | None = None,
        log_path: Path | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls`: a certificate and key file for `serve --certfile/--keyfile` (https)."""
        self.port = port or free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.env = {**os.environ, **CHEAP_ARGON2_ENV, **env}
        self.workers = workers
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What an httpx client needs to trust this server (its own certificate when tls)."""
        return ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else True

    def start(self, timeout: float = 30) -> ServerProcess:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "signin",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                *(
                    ("--certfile", str(self.tls[0]), "--keyfile", str(self.tls[1]))
                    if self.tls
                    else ()
                ),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if log is not subprocess.DEVNULL:
            log.close()  # the child holds its own copy of the descriptor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"signin serve exited with {self.proc.returncode}")
            try:
                health = httpx.get(self.url + "/healthz", timeout=1, verify=self.verify)
                if health.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("signin serve did not become healthy in time")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)


@contextmanager
def server(env: dict[str, str], **kwargs: Any) -> Iterator[ServerProcess]:
    process = ServerProcess(env, **kwargs).start()
    try:
        yield process
    finally:
        process.stop()
