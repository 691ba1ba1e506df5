"""A person in Chromium turns on two-factor sign-in by reading the key off the page, signs out,
and signs in again with a code from "their app" (pyotp here), then with a recovery code."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from signin.accounts.factors import totp
from signin.crypto.prehash import prehash_v1
from tests.browser.helpers import (
    PostLog,
    sign_in,
    sign_out,
    sign_up,
    submit_and_wait,
    unique_name,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.support import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "a long passphrase for 2fa"


def app_code(secret: str, ahead: int = 0) -> str:
    """What an authenticator app shows now (`ahead` steps later: still inside the ±1 window)."""
    return totp.code_at(secret, totp.step_at(time.time()) + ahead)


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def test_enrol_sign_out_sign_in_with_a_code(page: Page, signin_server: ServerProcess) -> None:
    base = signin_server.url
    posts = PostLog(page)
    name = unique_name("otp")
    assert sign_up(page, base, name, PASSWORD).status == 303

    page.goto(base + "/account")
    page.get_by_role("link", name="Set up or manage two-factor sign-in").click()
    assert path_of(page) == "/account/two-factor"
    began = submit_and_wait(page, "Set up two-factor sign-in", "/account/two-factor/begin")
    assert began.status == 303
    assert page.locator("figure.qr svg").count() == 1
    secret = page.locator("[data-totp-secret]").inner_text().strip()
    assert len(secret) == 32
    page.get_by_label("Code from your app").fill(app_code(secret))
    confirmed = submit_and_wait(page, "Turn on", "/account/two-factor/confirm")
    assert confirmed.status == 200
    codes = page.locator("[data-recovery-codes] code").all_inner_texts()
    assert len(codes) == 10

    assert sign_out(page, base).status == 303
    first = sign_in(page, base, name, PASSWORD)
    assert first.status == 303
    assert path_of(page) == "/sign-in/two-factor"
    assert page.context.request.get(base + "/api/v1/session").status == 401

    page.get_by_label("Code").fill("000000" if app_code(secret, 1) != "000000" else "111111")
    wrong = submit_and_wait(page, "Continue", "/sign-in/two-factor")
    assert wrong.status == 401
    assert page.get_by_role("alert").inner_text().startswith("That code is not right")

    # The step used to turn it on is spent; the next one (within the window) is not.
    page.get_by_label("Code").fill(app_code(secret, 1))
    done = submit_and_wait(page, "Continue", "/sign-in/two-factor")
    assert done.status == 303
    assert path_of(page) == "/welcome"
    me = page.context.request.get(base + "/api/v1/session")
    assert me.json()["two_factor"] is True

    assert sign_out(page, base).status == 303
    assert sign_in(page, base, name, PASSWORD).status == 303
    page.get_by_label("Code").fill(codes[0])
    assert submit_and_wait(page, "Continue", "/sign-in/two-factor").status == 303
    assert path_of(page) == "/welcome"

    # New recovery codes with the password: the page sends its pre-hash, never the password.
    page.goto(base + "/account/two-factor")
    page.locator("#recovery-codes-password").fill(PASSWORD)
    path = "/account/two-factor/recovery-codes"
    renewed = submit_and_wait(page, "Make new recovery codes with the password", path)
    assert renewed.status == 200
    fresh = page.locator("[data-recovery-codes] code").all_inner_texts()
    assert len(fresh) == 10
    assert set(fresh).isdisjoint(codes)
    [fields] = posts.fields_to(path)
    assert fields["current_password"] == [prehash_v1(name, PASSWORD)]
    assert all(PASSWORD not in body for body in posts.bodies_to(path))
