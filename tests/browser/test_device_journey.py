"""Real Chromium, real `signin serve`, real SMTP (SPEC 5a): a stranger locks the account; the
owner, in a browser the account never used, opens the lock mail's link, confirms, and signs in
with the password while the stranger is still refused."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import sign_in, submit_and_wait, unique_name
from tests.mailcatcher import mail_catcher
from tests.support import ServerProcess, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"
WRONG = "not the password at all"


def test_lock_mail_link_lets_the_owner_in_and_keeps_the_stranger_out(
    page: Page, browser: Browser, start_server: Callable[..., ServerProcess]
) -> None:
    with mail_catcher() as catcher:
        port = free_port()
        server = start_server(
            {
                "SIGNIN_SMTP_URL": catcher.url,
                "SIGNIN_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "SIGNIN_LOCK_MAX_FAILURES": "3",
                "SIGNIN_LOCK_SECONDS": "120",
            },
            port=port,
        )
        name, email = unique_name("owl"), "owl@example.com"
        created = httpx.post(
            server.url + "/api/v1/users",
            timeout=10,
            json={"username": name, "password": PASSWORD, "email": email},
        )
        assert created.status_code == 201, created.text
        verified = httpx.get(catcher.wait_for(1)[0].link("/verify-email"), timeout=10)
        assert verified.status_code == 200

        for _ in range(3):  # the stranger
            guess = httpx.post(
                server.url + "/api/v1/session",
                timeout=10,
                json={"username": name, "password": WRONG},
            )
            assert guess.status_code == 401
        assert sign_in(page, server.url, name, PASSWORD).status == 429

        mail = catcher.wait_for(2, timeout=10)[1]
        assert mail.subject == "Sign-in attempts on your account were blocked"
        page.goto(mail.link("/unlock"))
        assert page.get_by_role("heading", name="Trust this browser").is_visible()
        trusted = submit_and_wait(page, "Trust this browser", "/unlock")
        assert trusted.status == 200
        assert page.locator("[data-unlocked]").is_visible()
        assert any(cookie["name"] == "device" for cookie in page.context.cookies())

        assert sign_in(page, server.url, name, PASSWORD).status == 303
        assert urlsplit(page.url).path == "/welcome"

        # A browser the account never used is still refused, as is the stranger.
        other = browser.new_context()
        try:
            assert sign_in(other.new_page(), server.url, name, PASSWORD).status == 429
        finally:
            other.close()
        refused = httpx.post(
            server.url + "/api/v1/session",
            timeout=10,
            json={"username": name, "password": PASSWORD},
        )
        assert refused.status_code == 429
