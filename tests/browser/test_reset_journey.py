"""Real Chromium, real `signin serve`, real SMTP: forgot page → mail link → new password typed in
the reset page (pre-hashed by password.js) → sign in with it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.helpers import PostLog, sign_in, submit_and_wait, unique_name
from tests.mailcatcher import mail_catcher
from tests.support import ServerProcess, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OLD = "correct horse battery"
NEW = "a fresh passphrase for Zoë 9"


def test_forgot_mail_link_reset_then_sign_in(
    page: Page, start_server: Callable[..., ServerProcess]
) -> None:
    with mail_catcher() as catcher:
        port = free_port()
        server = start_server(
            {"SIGNIN_SMTP_URL": catcher.url, "SIGNIN_PUBLIC_URL": f"http://127.0.0.1:{port}"},
            port=port,
        )
        name, email = unique_name("zoe"), "zoe@example.com"
        created = httpx.post(
            server.url + "/api/v1/users",
            timeout=10,
            json={"username": name, "password": OLD, "email": email},
        )
        assert created.status_code == 201, created.text
        verified = httpx.get(catcher.wait_for(1)[0].link("/verify-email"), timeout=10)
        assert verified.status_code == 200

        posts = PostLog(page)
        page.goto(server.url + "/forgot-password")
        page.locator("#login").press_sequentially(email)
        answer = submit_and_wait(page, "Send me a reset link", "/forgot-password")
        assert answer.status == 200
        assert page.locator("[data-reset-sent]").is_visible()

        mail = catcher.wait_for(2)[1]
        assert mail.subject == "Reset your password"
        page.goto(mail.link("/reset-password"))
        # The token left the address bar before the form was shown.
        assert urlsplit(page.url).path == "/reset-password"
        assert "token" not in page.url
        page.locator("#password-new").press_sequentially(NEW)
        page.locator("#password-retype").press_sequentially(NEW)
        done = submit_and_wait(page, "Set new password", "/reset-password")
        assert done.status == 303
        assert urlsplit(page.url).path == "/sign-in"

        # What left the browser: a pre-hash, never the typed password.
        (fields,) = posts.fields_to("/reset-password")
        assert fields["password"][0].startswith("$1$")
        assert all(NEW not in body for body in posts.bodies_to("/reset-password"))

        assert sign_in(page, server.url, name, OLD).status == 401
        assert sign_in(page, server.url, name.upper(), NEW).status == 303
        assert urlsplit(page.url).path == "/welcome"
        assert page.get_by_role("heading", name=f"Welcome, {name}!").is_visible()
        assert catcher.wait_for(3)[2].subject == "Your password was changed"
