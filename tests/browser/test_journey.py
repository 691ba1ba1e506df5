"""A person in Chromium: sign up, welcome, sign out, sign in, change the password.

Run twice: on http://127.0.0.1:PORT, where the page uses WebCrypto, and on http://signin.test:PORT,
which is not a secure context (no `crypto.subtle`), where password.js falls back to its bundled
SHA-512. Both times every form POST carries the pre-hash and never the typed password.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from signin.crypto.prehash import prehash_v1
from tests.browser.helpers import (
    PostLog,
    insecure_url,
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

MODES = ["webcrypto", "fallback"]


def base_for(mode: str, server: ServerProcess) -> str:
    return server.url if mode == "webcrypto" else insecure_url(server)


def assert_in_mode(page: Page, mode: str) -> None:
    secure = mode == "webcrypto"
    assert page.evaluate("typeof crypto.subtle") == ("object" if secure else "undefined")
    assert page.evaluate("window.signinPrehash.usesWebCrypto()") is secure


def assert_plaintext_absent(body: str, *passwords: str) -> None:
    for password in passwords:
        for form in {password, unicodedata.normalize("NFKC", password)}:
            for encoded in (form, quote_plus(form), quote(form, safe="")):
                assert encoded not in body


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


@pytest.mark.parametrize("mode", MODES)
def test_sign_up_welcome_sign_out_sign_in(
    page: Page, signin_server: ServerProcess, mode: str
) -> None:
    base = base_for(mode, signin_server)
    posts = PostLog(page)
    name = unique_name("Zoë")
    password = "Grüße ﬁne Ｐａｓｓ 🔑 " + mode  # NFKC changes ﬁ and the full-width letters

    response = sign_up(page, base, name, password)
    assert_in_mode(page, mode)
    assert response.status == 303
    assert path_of(page) == "/welcome"
    assert page.locator("h1").inner_text() == f"Welcome, {name}!"
    [body] = posts.bodies_to("/sign-up")
    [fields] = posts.fields_to("/sign-up")
    assert sorted(fields) == ["csrf_token", "email", "password", "username"]
    assert fields["username"] == [name]
    assert fields["password"] == [prehash_v1(name, password)]
    assert_plaintext_absent(body, password)

    assert sign_out(page, base).status == 303
    assert path_of(page) == "/sign-in"
    page.goto(base + "/welcome")
    assert path_of(page) == "/sign-in"  # the session really ended

    # A wrong password: 401, the form again with the server's message, still pre-hashed.
    assert sign_in(page, base, name, password + "!").status == 401
    assert page.locator("[data-js-error]").is_visible()
    assert page.locator("#username").input_value() == name

    # Any form of the name with the same canon signs in: the browser canon'd it before hashing,
    # and stripped the spaces around it as the server does.
    assert sign_in(page, base, f" {name.upper()}  ", password).status == 303
    assert path_of(page) == "/welcome"
    assert page.locator("h1").inner_text() == f"Welcome, {name}!"
    sign_ins = posts.fields_to("/sign-in")
    assert [f["password"] for f in sign_ins] == [
        [prehash_v1(name, password + "!")],
        [prehash_v1(name, password)],
    ]
    for body in posts.bodies_to("/sign-in"):
        assert_plaintext_absent(body, password, password + "!")


@pytest.mark.parametrize("mode", MODES)
def test_change_password_on_the_account_page(
    page: Page, signin_server: ServerProcess, mode: str
) -> None:
    """A form without a username field (`data-username`), with two pre-hashed passwords."""
    base = base_for(mode, signin_server)
    name = unique_name("acct")
    old, new = "old passphrase ſtill", "new passphrase ΣΑΣ"
    assert sign_up(page, base, name, old).status == 303
    posts = PostLog(page)
    page.goto(base + "/account")
    assert_in_mode(page, mode)
    page.locator("#password-current").press_sequentially(old)
    page.locator("#password-new").press_sequentially(new)
    page.locator("#password-retype").press_sequentially(new)
    assert submit_and_wait(page, "Change password", "/account/password").status == 303
    assert path_of(page) == "/account"
    [fields] = posts.fields_to("/account/password")
    assert fields["current_password"] == [prehash_v1(name, old)]
    assert fields["password"] == [prehash_v1(name, new)]
    assert_plaintext_absent(posts.bodies_to("/account/password")[0], old, new)

    sign_out(page, base)
    assert sign_in(page, base, name, old).status == 401
    assert sign_in(page, base, name, new).status == 303
