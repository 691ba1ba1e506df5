"""The admin pages in Chromium: an admin disables and re-enables a user through the pages
(confirming each time), and the effect is checked over the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.helpers import sign_in, submit_and_wait
from tests.support import ServerProcess, run_signin

pytestmark = pytest.mark.browser
PASSWORD = "a long passphrase 1"


def api_sign_in(server: ServerProcess, username: str) -> int:
    body = {"username": username, "password": PASSWORD}
    return httpx.post(server.url + "/api/v1/session", json=body, timeout=10).status_code


def test_admin_disables_a_user_and_the_api_sees_it(
    page: Page, start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server({"SIGNIN_ADMIN_REQUIRE_2FA": "false"})
    for name in ("root", "bob"):
        body = {"username": name, "password": PASSWORD}
        assert httpx.post(server.url + "/api/v1/users", json=body, timeout=10).status_code == 201
    data_dir = Path(server.env["SIGNIN_DATA_DIR"])
    granted = run_signin(
        {"SIGNIN_DATA_DIR": str(data_dir)}, "users", "groups", "root", "--add", "admins"
    )
    assert granted.returncode == 0, granted.stderr
    assert api_sign_in(server, "bob") == 201

    assert sign_in(page, server.url, "root", PASSWORD).status == 303
    page.goto(server.url + "/admin/users?q=bob")
    row = page.locator('tr[data-user="bob"]')
    assert row.locator("[data-state]").inner_text() == "active"
    with page.expect_response(lambda r: r.request.method == "POST") as first:
        row.locator('button[data-action="disable"]').click()
    assert first.value.status == 200  # the confirmation page: nothing done yet
    assert api_sign_in(server, "bob") == 201
    assert submit_and_wait(page, "Yes, do it", "/admin/users/action").status == 303
    assert page.locator("[data-notice]").inner_text().startswith("Account disabled")
    assert api_sign_in(server, "bob") == 401

    page.goto(server.url + "/admin/users?q=bob")
    page.locator('tr[data-user="bob"] button[data-action="enable"]').click()
    page.wait_for_load_state()
    assert submit_and_wait(page, "Yes, do it", "/admin/users/action").status == 303
    assert api_sign_in(server, "bob") == 201

    page.goto(server.url + "/admin/audit?user=bob&type=user_disabled")
    assert page.locator('tr[data-event="user_disabled"]').count() == 1
    details = page.locator('tr[data-event="user_disabled"] dl')
    assert details.locator("dt").all_inner_texts() == ["By"]
    assert details.locator("dd").all_inner_texts() == ["root"]
    page.goto(server.url + "/admin")
    assert page.locator("svg[data-chart] polyline").count() == 3


def test_non_admin_sees_404(page: Page, start_server: Callable[..., ServerProcess]) -> None:
    server = start_server({"SIGNIN_ADMIN_REQUIRE_2FA": "false"})
    body = {"username": "carol", "password": PASSWORD}
    assert httpx.post(server.url + "/api/v1/users", json=body, timeout=10).status_code == 201
    assert sign_in(page, server.url, "carol", PASSWORD).status == 303
    response = page.goto(server.url + "/admin")
    assert response is not None
    assert response.status == 404
