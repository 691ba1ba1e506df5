"""A person who reads German or Arabic: sign up, sign out and sign in in Chromium, with the pages
(and the JavaScript's messages) in their language; Arabic right to left, its layout mirrored and
without horizontal overflow at desktop and phone widths. One server for the module."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from signin.i18n.catalogs import Catalogs
from tests.browser.helpers import sign_in, sign_out, sign_up, submit_and_wait, unique_name

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.support import ServerProcess

pytestmark = pytest.mark.browser

PASSWORD = "ein langes Passwort 1"
CATALOGS = Catalogs()
LOCALES = {"de": "de-DE", "ar": "ar-EG"}
WIDTHS = {"desktop": (1280, 800), "phone": (375, 667)}
DATES = {  # CLDR's medium date and time: 28.05.2026, 20:26:40 / 28/05/2026، 8:26:40 م
    "de": r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}:\d{2} UTC",
    "ar": r"\d{1,2}\u200f/\d{2}\u200f/\d{4}، \d{1,2}:\d{2}:\d{2} [صم] UTC",
}
BOXES = """() => {
  const box = (selector) => {
    const r = document.querySelector(selector).getBoundingClientRect();
    return {left: r.left, right: r.right, width: r.width};
  };
  const text = (selector) => {  // where the words are, not the block that holds them
    const range = document.createRange();
    range.selectNodeContents(document.querySelector(selector));
    const r = range.getBoundingClientRect();
    return {left: r.left, right: r.right, width: r.width};
  };
  return {
    dir: document.documentElement.dir,
    lang: document.documentElement.lang,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    label: text('label[for="username"]'),
    input: box('#username'),
    heading: text('h1'),
    main: box('main'),
    brand: box('.brand'),
    nav: box('.bar nav'),
    button: box('form#sign-in-form button[type="submit"]'),
  };
}"""


@pytest.fixture
def reader(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A browser context whose Accept-Language is the parametrised language."""
    context = browser.new_context(locale=LOCALES[request.param])
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def layout(page: Page, base: str, width: int, height: int) -> dict[str, Any]:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(base + "/sign-in")
    found: dict[str, Any] = page.evaluate(BOXES)
    return found


@pytest.mark.parametrize("reader", ["de", "ar"], indirect=True)
def test_sign_up_and_in_in_the_readers_language(reader: Page, signin_server: ServerProcess) -> None:
    page, base = reader, signin_server.url
    lang = str(page.evaluate("navigator.language")).split("-")[0]
    _ = CATALOGS.get(lang).gettext
    name = unique_name("Zoë")

    page.goto(base + "/sign-up")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
    assert page.locator("h1").inner_text() == _("Create an account")

    # The browser-side check speaks the language too (password.js reads the page's messages).
    page.locator("#username").press_sequentially(name)
    page.locator("#password-new").press_sequentially(PASSWORD)
    page.locator("#password-retype").press_sequentially(PASSWORD + "x")
    page.get_by_role("button", name=_("Sign up"), exact=True).click()
    assert page.locator("[data-js-error]").inner_text() == _("The two passwords do not match.")

    assert sign_up(page, base, name, PASSWORD, button=_("Sign up")).status == 303
    assert page.locator("h1").inner_text() == _("Welcome, %(name)s!") % {"name": name}
    assert sign_out(page, base, button=_("Sign out")).status == 303
    assert page.locator("h1").inner_text() == _("Sign in")

    wrong = sign_in(page, base, name, "not the password", button=_("Sign in"))
    assert wrong.status == 401
    assert page.locator("[data-js-error]").inner_text() == _("Wrong username or password.")
    assert sign_in(page, base, name, PASSWORD, button=_("Sign in")).status == 303
    assert page.locator("h1").inner_text() == _("Welcome, %(name)s!") % {"name": name}

    # The account page shows dates the reader's way (Babel), and the picker switches language.
    page.goto(base + "/account")
    started = page.locator("tr[data-current] td").first.inner_text()
    assert re.fullmatch(DATES[lang], started), started
    page.get_by_label(_("Language")).select_option("en")
    submit_and_wait(page, _("Change language"), "/language")
    assert page.url.endswith("/account")
    assert page.locator("h1").inner_text() == "Your account"
    assert page.locator("html").get_attribute("dir") == "ltr"


@pytest.mark.parametrize("width", list(WIDTHS))
def test_arabic_layout_is_mirrored(
    browser: Browser, signin_server: ServerProcess, width: str
) -> None:
    context = browser.new_context(locale="ar")
    english_context = browser.new_context(locale="en")
    try:
        arabic = layout(context.new_page(), signin_server.url, *WIDTHS[width])
        english = layout(english_context.new_page(), signin_server.url, *WIDTHS[width])
    finally:
        context.close()
        english_context.close()
    assert (arabic["dir"], arabic["lang"]) == ("rtl", "ar")
    assert (english["dir"], english["lang"]) == ("ltr", "en")
    for found in (arabic, english):
        assert found["scrollWidth"] <= found["innerWidth"], found  # no horizontal overflow
    # English: labels and the button start at the inputs' left edge; Arabic: at the right edge.
    assert abs(english["label"]["left"] - english["input"]["left"]) <= 1
    assert abs(arabic["label"]["right"] - arabic["input"]["right"]) <= 1
    assert arabic["label"]["left"] > arabic["input"]["left"] + 10
    assert abs(arabic["button"]["right"] - arabic["input"]["right"]) <= 1
    assert arabic["heading"]["right"] >= arabic["main"]["right"] - 40
    # The header mirrors: the brand on the right, the navigation on the left.
    assert english["brand"]["left"] < english["nav"]["left"]
    assert arabic["brand"]["left"] > arabic["nav"]["left"]
