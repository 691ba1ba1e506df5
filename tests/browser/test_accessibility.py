"""Every page passes axe-core's WCAG 2 A/AA rules, at a desktop and a phone width (SPEC section 3),
in English, German and Arabic (right to left): the language comes from the `lang` cookie, and the
buttons are found by their translated names.

axe-core comes from the npm registry, not from this repository: `.ci/run` installs it with
`npm install --prefix tests/browser/.axe axe-core@4` (docs/testing.md). Without it this module
skips with that command as the reason (fails under SIGNIN_REQUIRE_ALL=1).

axe is injected with Playwright's `page.evaluate`, which the page's CSP does not govern, so the CSP
stays exactly as served.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize

from signin.accounts.factors import totp
from signin.i18n.catalogs import Catalogs
from tests.browser.conftest import server_env
from tests.browser.helpers import sign_in, sign_out, sign_up, submit_and_wait, unique_name
from tests.support import ServerProcess, need, run_signin

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(' ')),
  }));
}"""
PASSWORD = "a long passphrase 1"
ADMIN = "axeadmin"
WIDTHS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 375, "height": 667},
}
LANGUAGES = ["en", "de", "ar"]
CATALOGS = Catalogs()
ANONYMOUS_PAGES = [
    "/sign-in",
    "/sign-up",
    "/forgot-password",
    "/sign-out",
    "/no-such-page",  # the 404 page
    "/reset-password?token=not-a-token",  # the "link no longer works" page
    "/oidc/logout",  # RP-initiated logout without a session: "you are signed out"
    "/oidc/authorize?client_id=nobody",  # an unknown OIDC client: error page (400)
]
SIGNED_IN_PAGES = [
    "/welcome",
    "/account",
    "/account/two-factor",
    "/account/activity",
    "/admin",
    "/admin/users",
    "/admin/locks",
    "/admin/sessions",
    "/admin/audit",
    "/admin/apps",
]
OIDC_CLIENTS = """
[[client]]
id = "axeapp"
name = "Accessible App"
redirect_uris = ["http://127.0.0.1:9/callback"]
"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    need(AXE.is_file(), "axe-core (npm install --prefix tests/browser/.axe axe-core@4)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with an admin account (2FA not required for admin, so one password opens it)."""
    root = tmp_path_factory.mktemp("axe-server")
    clients = root / "clients.toml"
    clients.write_text(OIDC_CLIENTS, encoding="utf-8")
    env = server_env(
        root / "data", SIGNIN_ADMIN_REQUIRE_2FA="false", SIGNIN_OIDC_CLIENTS=str(clients)
    )
    process = ServerProcess(env, log_path=root / "server.log").start()
    try:
        body = {"username": ADMIN, "password": PASSWORD}
        created = httpx.post(process.url + "/api/v1/users", json=body, timeout=10)
        assert created.status_code == 201, created.text
        granted = run_signin(
            {"SIGNIN_DATA_DIR": env["SIGNIN_DATA_DIR"]}, "users", "groups", ADMIN, "--add", "admins"
        )
        assert granted.returncode == 0, granted.stderr
        yield process
    finally:
        process.stop()


def violations_on(page: Page, axe_source: str, where: str) -> list[str]:
    """axe's WCAG 2 A/AA violations on the page as loaded, one readable line each."""
    page.evaluate(axe_source)
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [
        f"{where}: {v['id']} ({v['impact']}) {v['help']} at {', '.join(v['targets'])}"
        for v in found
    ]


def speak(page: Page, server: ServerProcess, lang: str) -> Any:
    """Show every page in `lang` (the picker's cookie); `_` translates a button's name."""
    page.context.add_cookies([{"name": "lang", "value": lang, "url": server.url}])
    return CATALOGS.get(lang).gettext


def visit(page: Page, url: str, status: int) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.status == status, url


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_has_no_wcag_violation(
    axe_source: str, page: Page, server: ServerProcess, width: str, lang: str
) -> None:
    page.set_viewport_size(WIDTHS[width])
    _ = speak(page, server, lang)
    problems: list[str] = []
    for path in ANONYMOUS_PAGES:
        expected = 404 if path == "/no-such-page" else 400 if "=" in path else 200
        visit(page, server.url + path, expected)
        problems += violations_on(page, axe_source, path)

    # The forgot-password page after it was sent (always the same page).
    page.goto(server.url + "/forgot-password")
    page.locator("#login").fill(ADMIN)
    assert submit_and_wait(page, _("Send me a reset link"), "/forgot-password").status == 200
    problems += violations_on(page, axe_source, "/forgot-password (sent)")

    # Forms shown again with their error message: a taken username (409), a wrong password (401).
    assert sign_up(page, server.url, ADMIN, PASSWORD, button=_("Sign up")).status == 409
    problems += violations_on(page, axe_source, "/sign-up (username taken)")
    page.goto(server.url + "/sign-up?basic=1")
    page.locator("#username").fill("x y")
    page.locator("#password-new").fill("short")
    page.locator("#password-retype").fill("short")
    assert submit_and_wait(page, _("Sign up"), "/sign-up").status == 422
    problems += violations_on(page, axe_source, "/sign-up (refused fields)")
    wrong = sign_in(page, server.url, ADMIN, "not the password", button=_("Sign in"))
    assert wrong.status == 401
    problems += violations_on(page, axe_source, "/sign-in (wrong password)")

    assert sign_in(page, server.url, ADMIN, PASSWORD, button=_("Sign in")).status == 303
    for path in SIGNED_IN_PAGES:
        visit(page, server.url + path, 200)
        problems += violations_on(page, axe_source, path)

    # The admin confirmation page (nothing is done until it is confirmed).
    page.goto(server.url + f"/admin/users?q={ADMIN}")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator(f'tr[data-user="{ADMIN}"] button[data-action="disable"]').click()
    page.wait_for_load_state()
    assert posted.value.status == 200
    problems += violations_on(page, axe_source, "/admin/users/action (confirm)")

    # A signed-in form error: the wrong current password on the account page (401).
    page.goto(server.url + "/account")
    page.locator("#password-current").press_sequentially("not the password")
    page.locator("#password-new").press_sequentially("another long passphrase 2")
    page.locator("#password-retype").press_sequentially("another long passphrase 2")
    assert submit_and_wait(page, _("Change password"), "/account/password").status == 401
    problems += violations_on(page, axe_source, "/account/password (wrong current password)")

    assert not problems, f"{len(problems)} axe violation(s) at {width} width, {lang}:\n" + (
        "\n".join(problems)
    )


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width", list(WIDTHS))
def test_two_factor_pages_have_no_wcag_violation(
    axe_source: str, page: Page, server: ServerProcess, width: str, lang: str
) -> None:
    page.set_viewport_size(WIDTHS[width])
    _ = speak(page, server, lang)
    problems: list[str] = []
    name = unique_name("axe")
    assert sign_up(page, server.url, name, PASSWORD, button=_("Sign up")).status == 303
    page.goto(server.url + "/account/two-factor")
    began = submit_and_wait(page, _("Set up two-factor sign-in"), "/account/two-factor/begin")
    assert began.status == 303
    problems += violations_on(page, axe_source, "/account/two-factor (key and QR code)")
    secret = page.locator("[data-totp-secret]").inner_text().strip()
    code = totp.code_at(secret, totp.step_at(time.time()))
    page.get_by_label(_("Code from your app")).fill(code)
    assert submit_and_wait(page, _("Turn on"), "/account/two-factor/confirm").status == 200
    problems += violations_on(page, axe_source, "/account/two-factor/confirm (recovery codes)")

    assert sign_out(page, server.url, button=_("Sign out")).status == 303
    assert sign_in(page, server.url, name, PASSWORD, button=_("Sign in")).status == 303
    problems += violations_on(page, axe_source, "/sign-in/two-factor")
    now = totp.step_at(time.time())
    near = {totp.code_at(secret, now + step) for step in (-1, 0, 1, 2)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in near)
    page.get_by_label(_("Code"), exact=True).fill(wrong)
    assert submit_and_wait(page, _("Continue"), "/sign-in/two-factor").status == 401
    problems += violations_on(page, axe_source, "/sign-in/two-factor (wrong code)")

    assert not problems, f"{len(problems)} axe violation(s) at {width} width, {lang}:\n" + (
        "\n".join(problems)
    )


@pytest.mark.parametrize("width", list(WIDTHS))
def test_oidc_pages_have_no_wcag_violation(
    axe_source: str, page: Page, server: ServerProcess, width: str
) -> None:
    """The consent page, the logout confirmation and the account's apps with access."""
    page.set_viewport_size(WIDTHS[width])
    problems: list[str] = []
    name = unique_name("axe")
    assert sign_up(page, server.url, name, PASSWORD).status == 303
    query = (
        "client_id=axeapp&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&response_type=code"
        "&scope=openid+profile+email&state=s&code_challenge="
        + "a" * 43
        + "&code_challenge_method=S256"
    )
    visit(page, server.url + "/oidc/authorize?" + query, 200)
    problems += violations_on(page, axe_source, "/oidc/authorize (consent)")
    # The app is not running: its callback answers from the browser's own route.
    page.route("http://127.0.0.1:9/**", lambda route: route.fulfill(status=200, body="app"))
    with page.expect_response(lambda r: r.url.endswith("/oidc/consent")) as answered:
        page.get_by_role("button", name="Allow").click()
    assert answered.value.status == 303
    page.wait_for_url("http://127.0.0.1:9/callback?**")
    visit(page, server.url + "/account", 200)
    assert page.locator('tr[data-app="axeapp"]').count() == 1
    problems += violations_on(page, axe_source, "/account (apps with access)")
    visit(page, server.url + "/oidc/logout", 200)
    problems += violations_on(page, axe_source, "/oidc/logout (confirm)")
    assert not problems, f"{len(problems)} axe violation(s) at {width} width:\n" + "\n".join(
        problems
    )


LONG_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_pages_fit_a_phone_and_tables_scroll_in_their_own_box(
    page: Page, server: ServerProcess, lang: str
) -> None:
    """At 375 px the page is never wider than the screen: a wide table scrolls inside a named
    region that the keyboard can reach, not the whole page sideways."""
    page.set_viewport_size(WIDTHS["phone"])
    _ = speak(page, server, lang)
    for _round in range(2):  # sessions, sign-ins and failures to fill the tables
        body = {"username": ADMIN, "password": PASSWORD}
        headers = {"User-Agent": LONG_AGENT}
        httpx.post(server.url + "/api/v1/session", json=body, headers=headers, timeout=10)
        wrong = {"username": ADMIN, "password": "not the password"}
        httpx.post(server.url + "/api/v1/session", json=wrong, headers=headers, timeout=10)
    assert sign_in(page, server.url, ADMIN, PASSWORD, button=_("Sign in")).status == 303
    for path in SIGNED_IN_PAGES:
        visit(page, server.url + path, 200)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} ({lang}) is {width} px wide"
        boxes = page.locator(".table-scroll")
        for i in range(boxes.count()):
            box = boxes.nth(i)
            assert box.get_attribute("role") == "region", path
            assert box.get_attribute("tabindex") == "0", path
            assert box.get_attribute("aria-label"), path
            assert box.locator("table").count() == 1, path
        assert page.locator("table").count() == boxes.count(), path


CHART_GEOMETRY = """() => {
  const chart = document.querySelector('svg[data-chart]');
  const box = el => { const b = el.getBBox(); return {left: b.x, right: b.x + b.width}; };
  return {
    width: chart.viewBox.baseVal.width,
    texts: [...chart.querySelectorAll('text')].map(box),
    swatches: [...chart.querySelectorAll('rect')].map(box),
  };
}"""


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_admin_chart_keeps_its_labels_inside_and_beside_their_swatches(
    page: Page, server: ServerProcess, lang: str
) -> None:
    page.set_viewport_size(WIDTHS["desktop"])
    _ = speak(page, server, lang)
    assert sign_in(page, server.url, ADMIN, PASSWORD, button=_("Sign in")).status == 303
    visit(page, server.url + "/admin", 200)
    drawn = page.evaluate(CHART_GEOMETRY)
    for text in drawn["texts"]:
        assert 0 <= text["left"] <= text["right"] <= drawn["width"], (lang, text)
    legends, swatches = drawn["texts"][-3:], drawn["swatches"]
    for n, (legend, swatch) in enumerate(zip(legends, swatches, strict=True)):
        assert legend["left"] >= swatch["right"], (lang, n)
        if n + 1 < len(swatches):
            assert legend["right"] <= swatches[n + 1]["left"], (lang, n)
