"""A person in Chromium signs up through an invite link (SPEC section 12), with the page's JS."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.browser.helpers import PostLog, submit_and_wait
from tests.support import run_signin

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.support import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "a long invited passphrase"


def test_invite_link_makes_one_account_with_its_groups(
    page: Page, start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server({"SIGNIN_SIGNUP": "invite"})
    env = {"SIGNIN_DATA_DIR": server.env["SIGNIN_DATA_DIR"], "SIGNIN_SIGNUP": "invite"}
    made = run_signin(env, "invites", "create", "--email", "ann@example.org", "--group", "team")
    assert made.returncode == 0, made.stderr
    link = made.stdout.splitlines()[0].replace("http://127.0.0.1:8000", server.url)

    page.goto(server.url + "/sign-up")
    assert page.get_by_role("alert").inner_text().startswith("Sign-up needs an invite")
    assert page.locator("#username").count() == 0

    posts = PostLog(page)
    page.goto(link)
    assert page.locator("#email").input_value() == "ann@example.org"
    page.locator("#username").press_sequentially("ann")
    page.locator("#password-new").press_sequentially(PASSWORD)
    page.locator("#password-retype").press_sequentially(PASSWORD)
    response = submit_and_wait(page, "Sign up", "/sign-up")
    assert response.status == 303
    assert page.url.endswith("/welcome")
    sent = posts.fields_to("/sign-up")[0]
    assert sent["invite"] == [link.split("invite=")[1]]
    assert PASSWORD not in sent["password"][0]  # the pre-hash, as on every form

    page.goto(server.url + "/account")
    assert page.locator("[data-groups] li").all_inner_texts() == ["team"]

    # Used: the link now explains itself, in a fresh browser context's view too.
    page.context.clear_cookies()
    page.goto(link)
    assert "not valid" in page.get_by_role("alert").inner_text()
