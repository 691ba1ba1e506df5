"""JupyterHub with oauthenticator's GenericOAuthenticator signs in through signin, in Chromium.

Issue 24's third relying party: a real JupyterHub (its own virtualenv, `jupyterhub_config.py`
beside this file, the settings docs/oidc.md gives) against a real `signin serve`, driven by real
Chromium through signin's sign-in page (the JavaScript pre-hash path). Asserted: the hub's user is
the signin username (`preferred_username`) with the signin groups (`groups` claim), an account
outside the allowed group is refused, the hub trades its refresh token at signin's token endpoint
once its access token stops working (audited as `oidc_token_refreshed`; the refresh token
rotates), and the hub's logout ends the signin session through
RP-initiated logout and lands back on the hub.

The hub is not part of signin: `.ci/run` installs it with
`python3 -m venv tests/browser/.jupyterhub && tests/browser/.jupyterhub/bin/pip install -r
tests/browser/jupyterhub-requirements.txt`. Without it this module skips with that command as
the reason (fails under SIGNIN_REQUIRE_ALL=1).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import server_env
from tests.support import ServerProcess, free_port, need, run_signin

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).parent
HUB_VENV = HERE / ".jupyterhub"
HUB = HUB_VENV / "bin" / "jupyterhub"
INSTALL = (
    "python3 -m venv tests/browser/.jupyterhub && tests/browser/.jupyterhub/bin/pip install"
    " -r tests/browser/jupyterhub-requirements.txt"
)
PASSWORD = "a long passphrase for the hub"


@dataclass(frozen=True)
class Setup:
    signin: ServerProcess
    hub: str
    hub_token: str
    client_secret: str


def hub_user(setup: Setup, name: str) -> httpx.Response:
    headers = {"Authorization": f"token {setup.hub_token}"}
    return httpx.get(f"{setup.hub}/hub/api/users/{name}", headers=headers, timeout=10)


def audit(setup: Setup, kind: str) -> list[dict[str, object]]:
    env = {"SIGNIN_DATA_DIR": setup.signin.env["SIGNIN_DATA_DIR"]}
    done = run_signin(env, "audit", "--type", kind, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    need(HUB.exists(), f"JupyterHub with oauthenticator ({INSTALL})")
    folder = tmp_path_factory.mktemp("jupyterhub")
    secret = secrets.token_urlsafe(32)
    hub = f"http://127.0.0.1:{free_port()}"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    clients = folder / "clients.toml"
    clients.write_text(
        "[[client]]\n"
        'id = "jupyterhub"\n'
        'name = "JupyterHub"\n'
        f'redirect_uris = ["{hub}/hub/oauth_callback"]\n'
        f'post_logout_redirect_uris = ["{hub}/hub/login"]\n'
        f'secret_hash = "sha256:{digest}"\n'
        'token_endpoint_auth_method = "client_secret_post"\n'
        'consent = "skip"\n'
    )
    port = free_port()
    env = server_env(
        folder / "data",
        SIGNIN_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SIGNIN_OIDC_CLIENTS=str(clients),
        SIGNIN_COOKIE_SECURE="false",
    )
    signin = ServerProcess(env, port=port, log_path=folder / "signin.log").start()
    hub_process: subprocess.Popen[bytes] | None = None
    try:
        with httpx.Client(base_url=signin.url) as http:
            for name in ("hubalice", "hubbob"):
                made = http.post("/api/v1/users", json={"username": name, "password": PASSWORD})
                assert made.status_code == 201, made.text
        for group in ("staff", "dev"):
            grouped = run_signin(env, "users", "groups", "hubalice", "--add", group)
            assert grouped.returncode == 0, grouped.stderr
        token = secrets.token_hex(32)
        hub_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SIGNIN_")},
            "OIDC_TEST_ISSUER": signin.url,
            "OIDC_TEST_HUB_URL": hub,
            "OIDC_TEST_FOLDER": str(folder),
            "OIDC_TEST_HUB_TOKEN": token,
            "OIDC_TEST_CLIENT_SECRET": secret,
            "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
        }
        log = (folder / "hub.log").open("wb")
        hub_process = subprocess.Popen(
            [str(HUB), "-f", str(HERE / "jupyterhub_config.py")],
            cwd=folder,
            env=hub_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert hub_process.poll() is None, (folder / "hub.log").read_text()[-3000:]
            try:
                if httpx.get(f"{hub}/hub/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError("JupyterHub did not answer: " + (folder / "hub.log").read_text())
        yield Setup(signin, hub, token, secret)
    finally:
        if hub_process is not None and hub_process.poll() is None:
            os.killpg(hub_process.pid, 15)
            hub_process.wait(timeout=20)
        signin.stop()


def sign_in_at_hub(page: Page, setup: Setup, username: str) -> None:
    """Open the hub, press its "Sign in with signin", fill signin's real sign-in page."""
    page.set_default_timeout(30_000)  # three servers and Chromium on two shared cores
    page.goto(f"{setup.hub}/hub/login")
    page.get_by_role("button", name="Sign in with signin").click()  # an <a role=button>
    page.wait_for_url(f"{setup.signin.url}/sign-in**")
    page.fill("#username", username)
    page.fill("#password-current", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_hub_user_is_the_signin_user_with_groups_refresh_and_logout(
    page: Page, setup: Setup
) -> None:
    sign_in_at_hub(page, setup, "hubalice")
    page.wait_for_url(f"{setup.hub}/hub/home")
    assert "hubalice" in page.content()
    user = hub_user(setup, "hubalice")
    assert user.status_code == 200, user.text
    assert user.json()["name"] == "hubalice"  # username_claim = preferred_username
    assert sorted(user.json()["groups"]) == ["dev", "staff"]  # the groups claim, managed
    issued = [e for e in audit(setup, "oidc_token_issued") if "hubalice" in json.dumps(e)]
    assert issued, "no token issued for the hub"

    # The hub keeps signin's tokens in its auth state. Revoke its access token at signin (as an
    # expiry would end it): past auth_refresh_age (2 s) the hub's next check of the user gets
    # 401 from UserInfo and trades its refresh token for new ones.
    state = user.json()["auth_state"]
    spent = state["access_token"]
    assert state["refresh_token"]
    revoked = httpx.post(
        f"{setup.signin.url}/oidc/revoke",
        data={"token": spent, "client_id": "jupyterhub", "client_secret": setup.client_secret},
        timeout=10,
    )
    assert revoked.status_code == 200
    time.sleep(2.5)
    page.goto(f"{setup.hub}/hub/home")
    assert page.url == f"{setup.hub}/hub/home"  # still signed in to the hub: no new sign-in
    refreshed = audit(setup, "oidc_token_refreshed")
    assert any("jupyterhub" in json.dumps(event) for event in refreshed), refreshed
    renewed = hub_user(setup, "hubalice").json()["auth_state"]
    assert renewed["access_token"] != spent
    assert renewed["refresh_token"] != state["refresh_token"]  # rotated

    # The hub's logout goes to signin's end_session endpoint (client_id, no id_token_hint):
    # signin asks first, then ends its session and returns to the hub's login page.
    page.goto(f"{setup.hub}/hub/logout")
    page.wait_for_url(f"{setup.signin.url}/oidc/logout**")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{setup.hub}/hub/login**")
    page.goto(f"{setup.signin.url}/welcome")
    assert "/sign-in" in page.url  # the signin session is over


def test_account_outside_the_allowed_group_is_refused_by_the_hub(page: Page, setup: Setup) -> None:
    sign_in_at_hub(page, setup, "hubbob")
    page.wait_for_url(f"{setup.hub}/hub/oauth_callback**")
    assert page.locator("body").inner_text().count("403") >= 1
    assert hub_user(setup, "hubbob").status_code == 404  # never became a hub user
