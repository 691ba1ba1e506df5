"""Helpers for browser tests: what the person does (type, click) and what left the browser.

The fixtures (browser, servers, pages) are in `tests/browser/conftest.py`.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Response

    from tests.support import ServerProcess

INSECURE_HOST = "signin.test"  # mapped to 127.0.0.1 by the browser fixture's launch flags

_names = itertools.count(1)


def unique_name(prefix: str = "user") -> str:
    """A username no other test of this run has used (usernames are 3-32 characters)."""
    return f"{prefix}{os.getpid() % 10000}x{next(_names)}"


def insecure_url(server: ServerProcess) -> str:
    """The server under a name that is not localhost: plain http there is not a secure context."""
    return f"http://{INSECURE_HOST}:{server.port}"


class PostLog:
    """Every POST the page sends, as (path, raw body, parsed form fields), in order."""

    def __init__(self, page: Page) -> None:
        self.posts: list[tuple[str, str, dict[str, list[str]]]] = []
        page.on("request", self._record)

    def _record(self, request: Request) -> None:
        if request.method != "POST":
            return
        body = request.post_data or ""
        fields = parse_qs(body, keep_blank_values=True)
        self.posts.append((urlsplit(request.url).path, body, fields))

    def bodies_to(self, path: str) -> list[str]:
        return [body for where, body, _ in self.posts if where == path]

    def fields_to(self, path: str) -> list[dict[str, list[str]]]:
        return [fields for where, _, fields in self.posts if where == path]


def submit_and_wait(page: Page, button: str, path: str) -> Response:
    """Click the submit button named `button`; the response to the form's POST to `path`."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path == path
    ) as posted:
        page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    return posted.value


def fill_sign_up(
    page: Page, base: str, username: str, password: str, *, retype: str | None = None
) -> None:
    """Open the sign-up page and type the fields key by key (nothing is submitted)."""
    page.goto(base + "/sign-up")
    page.locator("#username").press_sequentially(username)
    page.locator("#password-new").press_sequentially(password)
    page.locator("#password-retype").press_sequentially(password if retype is None else retype)


def sign_up(
    page: Page, base: str, username: str, password: str, *, button: str = "Sign up"
) -> Response:
    """Type the sign-up form and click "Sign up" (`button`: in the page's language); the
    response to the POST."""
    fill_sign_up(page, base, username, password)
    return submit_and_wait(page, button, "/sign-up")


def sign_in(
    page: Page, base: str, username: str, password: str, *, button: str = "Sign in"
) -> Response:
    page.goto(base + "/sign-in")
    page.locator("#username").press_sequentially(username)
    page.locator("#password-current").press_sequentially(password)
    return submit_and_wait(page, button, "/sign-in")


def sign_out(page: Page, base: str, *, button: str = "Sign out") -> Response:
    page.goto(base + "/sign-out")
    return submit_and_wait(page, button, "/sign-out")
