"""Passkeys in Chromium with the DevTools protocol's virtual authenticator (ctap2, resident keys,
user verification), through a Playwright CDP session.

The server's public URL is http://localhost:PORT: localhost is a secure context and the RP id
(`localhost`) matches the page's host. On http://signin.test:PORT (not a secure context) the
browser has no WebAuthn and the passkey button stays hidden.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from signin.accounts.factors import totp
from tests.browser.conftest import server_env
from tests.browser.helpers import (
    insecure_url,
    sign_in,
    sign_out,
    sign_up,
    submit_and_wait,
    unique_name,
)
from tests.support import ServerProcess, free_port, run_signin

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long passphrase 1"
ERROR = "[data-passkey-sign-in] [data-passkey-error]"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root: Path = tmp_path_factory.mktemp("passkey-server")
    port = free_port()
    env = server_env(root / "data", SIGNIN_PUBLIC_URL=f"http://localhost:{port}")
    process = ServerProcess(env, port=port, log_path=root / "server.log").start()
    try:
        yield process
    finally:
        process.stop()


def base(server: ServerProcess) -> str:
    return f"http://localhost:{server.port}"


class Authenticator:
    """Chromium's virtual authenticator on one page (WebAuthn domain of the DevTools protocol)."""

    def __init__(self, page: Page) -> None:
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        added = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        self.id: str = added["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        return list(found["credentials"])

    def presence(self, automatic: bool) -> None:
        """Whether the authenticator answers without a touch (off: requests wait for one)."""
        self.cdp.send(
            "WebAuthn.setAutomaticPresenceSimulation",
            {"authenticatorId": self.id, "enabled": automatic},
        )

    def user_verified(self, verified: bool) -> None:
        self.cdp.send(
            "WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified}
        )


def add_passkey(page: Page, url: str, name: str) -> None:
    page.goto(url + "/account")
    page.get_by_label("Name of the new passkey").fill(name)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/passkeys")) as added:
        page.get_by_role("button", name="Add a passkey").click()
    assert added.value.status == 201, added.value.text()
    page.wait_for_load_state()
    page.locator("[data-passkey-name]", has_text=name).wait_for()


def open_sign_in(page: Page, url: str, authenticator: Authenticator) -> None:
    """Open /sign-in with the autofill request pending (the authenticator waits for a touch:
    with automatic presence, Chromium would answer the autofill request at once)."""
    authenticator.presence(False)
    page.goto(url + "/sign-in")
    page.get_by_role("button", name="Sign in with a passkey").wait_for()
    authenticator.presence(True)


def click_passkey_button(page: Page, url: str, authenticator: Authenticator) -> int:
    """Open /sign-in, click the passkey button; the status of the sign-in POST."""
    open_sign_in(page, url, authenticator)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/passkeys/sign-in")) as posted:
        page.get_by_role("button", name="Sign in with a passkey").click()
    return posted.value.status


def session_of(page: Page, url: str) -> httpx.Response:
    cookies = {c["name"]: c["value"] for c in page.context.cookies(url)}
    return httpx.get(url + "/api/v1/session", cookies=cookies, timeout=10)


def audited(server: ServerProcess, username: str, *wanted: str) -> list[str]:
    """The user's audit event types, read with `signin audit` once `wanted` are all written
    (the log is flushed in batches, a fraction of a second after the request)."""
    deadline = time.monotonic() + 10
    while True:
        env = {"SIGNIN_DATA_DIR": server.env["SIGNIN_DATA_DIR"]}
        done = run_signin(env, "audit", "--user", username, "--json")
        assert done.returncode == 0, done.stderr
        events = [json.loads(line) for line in done.stdout.splitlines() if line]
        types = [event["type"] for event in events]
        if set(wanted) <= set(types) or time.monotonic() > deadline:
            return types
        time.sleep(0.2)


def test_register_sign_out_and_sign_in_with_the_button(page: Page, server: ServerProcess) -> None:
    url = base(server)
    authenticator = Authenticator(page)
    name = unique_name("pk")
    assert sign_up(page, url, name, PASSWORD).status == 303
    add_passkey(page, url, "Headless laptop")
    row = page.locator("tr[data-passkey]")
    assert row.count() == 1
    assert "never" in row.inner_text()
    [credential] = authenticator.credentials()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    authenticator.presence(False)
    sign_out(page, url)
    assert session_of(page, url).status_code == 401
    assert click_passkey_button(page, url, authenticator) == 201
    page.wait_for_url(url + "/welcome")
    assert name in page.inner_text("main")
    assert session_of(page, url).json()["username"] == name
    page.goto(url + "/account")
    assert "never" not in page.locator("tr[data-passkey]").inner_text()
    types = audited(server, name, "passkey_added", "sign_in")
    assert "passkey_added" in types
    assert types[-1] == "sign_in"  # the passkey's, after the sign-up's own


def test_a_removed_passkey_is_refused(page: Page, server: ServerProcess) -> None:
    url = base(server)
    authenticator = Authenticator(page)
    name = unique_name("pk")
    assert sign_up(page, url, name, PASSWORD).status == 303
    add_passkey(page, url, "Soon gone")
    submit_and_wait(page, "Remove", "/account/passkeys/remove")
    assert page.locator("[data-passkeys-none]").is_visible()
    types = audited(server, name, "passkey_added", "passkey_removed")
    assert types.index("passkey_added") < types.index("passkey_removed")
    assert len(authenticator.credentials()) == 1  # the authenticator still holds it
    authenticator.presence(False)
    sign_out(page, url)
    assert click_passkey_button(page, url, authenticator) == 401
    error = page.locator(ERROR)
    error.wait_for()
    assert error.get_attribute("role") == "alert"
    assert "not accepted" in error.inner_text()
    assert page.url.startswith(url + "/sign-in")
    assert session_of(page, url).status_code == 401


def test_failing_user_verification_is_refused(page: Page, server: ServerProcess) -> None:
    url = base(server)
    authenticator = Authenticator(page)
    assert sign_up(page, url, unique_name("pk"), PASSWORD).status == 303
    add_passkey(page, url, "Unverified")
    authenticator.presence(False)
    sign_out(page, url)
    authenticator.user_verified(False)
    open_sign_in(page, url, authenticator)
    page.get_by_role("button", name="Sign in with a passkey").click()
    error = page.locator(ERROR)
    error.wait_for()
    assert error.inner_text().strip()
    assert page.url.startswith(url + "/sign-in")
    assert session_of(page, url).status_code == 401


def test_autofill_signs_in(page: Page, server: ServerProcess) -> None:
    """Conditional mediation: the sign-in page asks at once; Chromium's virtual authenticator
    (automatic presence) answers as a person picking the passkey from the username's list."""
    url = base(server)
    authenticator = Authenticator(page)
    name = unique_name("pk")
    assert sign_up(page, url, name, PASSWORD).status == 303
    add_passkey(page, url, "Autofilled")
    authenticator.presence(False)
    sign_out(page, url)
    assert session_of(page, url).status_code == 401
    authenticator.presence(True)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/passkeys/sign-in")) as posted:
        page.goto(url + "/sign-in")
    assert posted.value.status == 201
    page.wait_for_url(url + "/welcome")
    assert session_of(page, url).json()["username"] == name


def test_the_password_form_works_beside_a_pending_autofill(
    page: Page, server: ServerProcess
) -> None:
    url = base(server)
    authenticator = Authenticator(page)
    name = unique_name("pk")
    assert sign_up(page, url, name, PASSWORD).status == 303
    add_passkey(page, url, "Pending")
    authenticator.presence(False)
    sign_out(page, url)
    page.goto(url + "/sign-in")
    assert page.locator("#username").get_attribute("autocomplete") == "username webauthn"
    assert page.get_by_role("button", name="Sign in with a passkey").is_visible()
    assert page.evaluate("PublicKeyCredential.isConditionalMediationAvailable()") is True
    assert sign_in(page, url, name, PASSWORD).status == 303
    page.wait_for_url(url + "/welcome")


def test_without_webauthn_the_button_stays_hidden(page: Page, server: ServerProcess) -> None:
    plain = insecure_url(server)  # not a secure context: no PublicKeyCredential
    page.goto(plain + "/sign-in")
    assert page.evaluate("typeof window.PublicKeyCredential") == "undefined"
    assert page.locator("[data-passkey-sign-in]").is_hidden()
    assert re.search(r"Sign in", page.inner_text("main"))


def test_autofill_that_cannot_work_stays_quiet_and_the_button_explains(
    page: Page, server: ServerProcess
) -> None:
    """At an address passkeys cannot serve (an IP address, where the RP id does not match), the
    background autofill fails without a word on the page; the button then says why."""
    ip_url = f"http://127.0.0.1:{server.port}"
    with page.expect_response(lambda r: r.url.endswith("/api/v1/passkeys/sign-in/options")):
        page.goto(ip_url + "/sign-in")
    page.wait_for_timeout(300)  # the autofill's failure has been handled by now
    assert page.locator("[data-passkey-sign-in]").is_visible()
    assert page.locator(ERROR).is_hidden()
    page.get_by_role("button", name="Sign in with a passkey").click()
    error = page.locator(ERROR)
    error.wait_for(state="visible")
    assert error.inner_text().strip() != ""


def turn_on_totp(page: Page, url: str) -> None:
    """On /account/two-factor, as a person with an authenticator app (pyotp's codes here)."""
    page.goto(url + "/account/two-factor")
    submit_and_wait(page, "Set up two-factor sign-in", "/account/two-factor/begin")
    secret = page.locator("[data-totp-secret]").inner_text().strip()
    code = totp.code_at(secret, totp.step_at(time.time()))
    page.get_by_label("Code from your app").fill(code)
    assert submit_and_wait(page, "Turn on", "/account/two-factor/confirm").status == 200


def test_a_passkey_as_the_second_step_after_the_password(page: Page, server: ServerProcess) -> None:
    url = base(server)
    authenticator = Authenticator(page)
    name = unique_name("pk")
    assert sign_up(page, url, name, PASSWORD).status == 303
    turn_on_totp(page, url)
    add_passkey(page, url, "Second step")
    authenticator.presence(False)
    sign_out(page, url)
    assert sign_in(page, url, name, PASSWORD).status == 303
    page.wait_for_url(url + "/sign-in/two-factor")
    assert session_of(page, url).status_code == 401
    authenticator.presence(True)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/passkeys/second-step")) as done:
        page.get_by_role("button", name="Use a passkey").click()
    assert done.value.status == 201
    page.wait_for_url(url + "/welcome")
    me = session_of(page, url).json()
    assert me["username"] == name
    assert me["two_factor"] is True
