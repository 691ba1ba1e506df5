"""password.js on the forms: checks before anything is sent, one POST per submit, the no-JS path."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from signin.crypto.prehash import prehash_v1
from tests.browser.helpers import PostLog, fill_sign_up, submit_and_wait, unique_name

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.support import ServerProcess

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("case", "password", "retype", "message"),
    [
        ("too short", "short7!", None, "Password must be at least 8 characters."),
        # Length counts code points after NFKC, as the server does, not UTF-16 units (8 here).
        ("short astral", "abcdef🔑", None, "Password must be at least 8 characters."),
        ("mismatch", "long enough 1", "long enough 2", "The two passwords do not match."),
        ("the username", "{name}", None, "Password must not be the username."),
        ("the username, folded", "{folded}", None, "Password must not be the username."),
    ],
)
def test_sign_up_is_checked_in_the_page_and_nothing_is_sent(
    page: Page,
    signin_server: ServerProcess,
    case: str,
    password: str,
    retype: str | None,
    message: str,
) -> None:
    name = unique_name("CheckMe")
    password = password.format(name=name, folded=name.casefold())
    posts = PostLog(page)
    fill_sign_up(page, signin_server.url, name, password, retype=retype)
    box = page.locator("[data-js-error]")
    assert box.is_hidden()
    page.get_by_role("button", name="Sign up", exact=True).click()
    assert box.inner_text() == message, case
    assert box.is_visible()
    assert page.locator("[aria-invalid=true]").count() == 1
    assert page.locator("input[name=password]").input_value() == ""
    page.wait_for_timeout(200)  # a POST, had one been started, would be logged by now
    assert posts.posts == []
    assert urlsplit(page.url).path == "/sign-up"


def test_fixing_the_form_then_submitting_sends_one_post(
    page: Page, signin_server: ServerProcess
) -> None:
    name = unique_name("fixer")
    posts = PostLog(page)
    fill_sign_up(page, signin_server.url, name, "a good passphrase", retype="a typo passphrase")
    page.get_by_role("button", name="Sign up", exact=True).click()
    assert page.locator("[data-js-error]").inner_text() == "The two passwords do not match."
    page.locator("#password-retype").fill("a good passphrase")
    # Three submits in a row, as an impatient double click would cause: one POST.
    with page.expect_navigation():
        page.locator("form[data-prehash]").evaluate(
            "form => { form.requestSubmit(); form.requestSubmit(); form.requestSubmit(); }"
        )
    assert urlsplit(page.url).path == "/welcome"
    fields = posts.fields_to("/sign-up")
    assert len(fields) == 1
    assert fields[0]["password"] == [prehash_v1(name, "a good passphrase")]


def test_empty_username_on_sign_in(page: Page, signin_server: ServerProcess) -> None:
    posts = PostLog(page)
    page.goto(signin_server.url + "/sign-in")
    page.locator("#password-current").fill("whatever it is")
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert page.locator("[data-js-error]").inner_text() == "Enter your username."
    assert page.evaluate("document.activeElement.id") == "username"
    page.wait_for_timeout(200)
    # The form was not sent (passkeys.js's autofill asks /api/v1/passkeys/... on its own).
    assert posts.bodies_to("/sign-in") == []


def test_without_javascript_the_basic_form_signs_up(
    browser: Browser, signin_server: ServerProcess
) -> None:
    """JavaScript off: the notice links to ?basic=1, whose named input sends the plaintext."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        posts = PostLog(page)
        page.goto(signin_server.url + "/sign-up")
        assert page.locator("input[type=password][name]").count() == 0
        page.get_by_role("link", name="Use the basic form").click()
        assert urlsplit(page.url).query == "basic=1"
        name = unique_name("nojs")
        page.locator("#username").fill(name)
        page.locator("#password-new").fill("plain path passphrase")
        page.locator("#password-retype").fill("plain path passphrase")
        assert submit_and_wait(page, "Sign up", "/sign-up").status == 303
        assert page.locator("h1").inner_text() == f"Welcome, {name}!"
        [fields] = posts.fields_to("/sign-up")
        assert fields["password"] == ["plain path passphrase"]
        assert fields["basic"] == ["1"]
    finally:
        context.close()


def test_a_refused_basic_sign_up_focuses_and_announces_its_problems(
    page: Page, signin_server: ServerProcess
) -> None:
    """The server's 422: the first refused input has the focus, and the alert region (shown
    at load, so screen readers announce it) says every problem, each a link to its input."""
    page.goto(signin_server.url + "/sign-up?basic=1")
    page.locator("#username").fill("x y")
    page.locator("#password-new").fill("short")
    page.locator("#password-retype").fill("short")
    assert submit_and_wait(page, "Sign up", "/sign-up").status == 422
    assert page.evaluate("document.activeElement.id") == "username"
    alert = page.get_by_role("alert")
    assert alert.is_visible()
    assert "Username may contain only" in alert.inner_text()
    assert "Password must be at least 8 characters." in alert.inner_text()
    focused = page.locator("#username")
    assert focused.get_attribute("aria-invalid") == "true"
    # The accessible description a screen reader reads with the focused input.
    described = focused.evaluate(
        "el => document.getElementById(el.getAttribute('aria-describedby')).textContent"
    )
    assert "Username may contain only" in described
    alert.get_by_role("link", name="Password must be at least 8 characters.").click()
    assert page.evaluate("document.activeElement.id") == "password-new"
