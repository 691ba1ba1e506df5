"""Browser tier: real Chromium driven by Playwright (sync API) against a real `signin serve`.

Fixtures any browser test can use (they are all here, nothing hidden in plugins):

- `browser` (package scope): one headless /usr/bin/chromium with the team's launch flags, and the
  host name `signin.test` resolved to 127.0.0.1 (`INSECURE_HOST`). Skips, or fails under
  SIGNIN_REQUIRE_ALL=1, when Chromium or Playwright is missing. Playwright never downloads one.
- `signin_server` (package scope): one `signin serve` on a free loopback port with a fresh data dir
  and cheap argon2; `.url` is http://127.0.0.1:PORT (a secure context: WebCrypto is there),
  `insecure_url(server)` is http://signin.test:PORT (not a secure context: no `crypto.subtle`).
  Tests share it, so each one signs up its own `unique_name()`.
- `start_server` (function scope): a factory `start_server({"SIGNIN_SMTP_URL": ...})` for a test
  that needs its own server with extra settings; every server it started is stopped after the test.
- `page` (function scope): a new browser context (own cookies) and page, closed after the test.

Plain helpers (`PostLog`, `unique_name`, `insecure_url`, `sign_up`, `sign_in`, `sign_out`) are in
`tests/browser/helpers.py`. A journey test looks like:

    from tests.browser.helpers import PostLog, sign_up, unique_name

    def test_something(page: Page, signin_server: ServerProcess) -> None:
        posts = PostLog(page)
        name = unique_name()
        sign_up(page, signin_server.url, name, "a long passphrase 1")
        assert page.url.endswith("/welcome")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.helpers import INSECURE_HOST
from tests.support import ServerProcess, need

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1",
]


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "SIGNIN_DATA_DIR": str(data_dir),
        # Tests sign in and fail on purpose; locks would only make them order-dependent.
        "SIGNIN_LOCK_MAX_FAILURES": "1000",
        "SIGNIN_IP_LOCK_MAX_FAILURES": "100000",
        # Every test signs up from 127.0.0.1 on a shared server: the per-IP sign-up limit (20)
        # would make the module's later tests fail with 429 as tests are added.
        "SIGNIN_SIGNUP_LIMIT_PER_IP": "1000000",
        **extra,
    }


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    need(os.path.exists(CHROMIUM), f"Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the environment
        need(False, "the playwright Python package")
        raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="package")
def signin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("browser-server")
    process = ServerProcess(server_env(root / "data"), log_path=root / "server.log").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def start_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(env: dict[str, str] | None = None, **kwargs: Any) -> ServerProcess:
        root = tmp_path_factory.mktemp("browser-own-server")
        process = ServerProcess(
            server_env(root / "data", **(env or {})), log_path=root / "server.log", **kwargs
        )
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()
