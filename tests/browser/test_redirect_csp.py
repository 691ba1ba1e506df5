"""Real Chromium: the sign-in form's redirect to an allowed host on another port passes CSP.

Browsers check `form-action` against the redirect that follows a form post. A portless entry in
SIGNIN_ALLOWED_REDIRECT_HOSTS admits any port, so the policy must say `http://host:*`: with a
bare `http://host` Chromium blocks the whole form post.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"


class Landing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>landed</title><h1>landed</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def landing() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Landing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_sign_in_redirects_to_allowed_host_on_any_port(
    tmp_path: Path, landing: int, page: Page
) -> None:
    # `page` comes from the tier's one Chromium (conftest.py): Playwright's sync API cannot nest.
    env = {"SIGNIN_DATA_DIR": str(tmp_path / "data"), "SIGNIN_ALLOWED_REDIRECT_HOSTS": "localhost"}
    signin = ServerProcess(env)
    signin.env["SIGNIN_PUBLIC_URL"] = signin.url
    signin.start()
    try:
        created = httpx.post(
            f"{signin.url}/api/v1/users", json={"username": "alice", "password": PASSWORD}
        )
        assert created.status_code == 201
        target = f"http://localhost:{landing}/after"
        link = httpx.get(f"{signin.url}/api/v1/verify", params={"rd": target})
        assert link.status_code == 302
        blocked: list[str] = []
        page.on(
            "console",
            lambda message: (
                blocked.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        # The no-JS form posts the plaintext; the JS form's pre-hash is tested elsewhere.
        page.goto(link.headers["location"].replace("/sign-in?", "/sign-in?basic=1&"))
        page.fill("#username", "alice")
        page.fill("#password-current", PASSWORD)
        with page.expect_navigation(url=target, timeout=10_000):
            page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "landed"
        assert blocked == []
    finally:
        signin.stop()
