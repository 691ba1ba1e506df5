"""Helpers for the reset / verification / account tests: an app wired to a real SMTP catcher."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from signin.services import Services, build_services
from tests.mailcatcher import MailCatcher
from tests.support import form_post, make_settings, running_app

PUBLIC_URL = "https://accounts.example.test"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "new staple of mine 42"


@asynccontextmanager
async def mail_app(
    tmp_path: Path, catcher: MailCatcher | None, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    values: dict[str, Any] = {"public_url": PUBLIC_URL}
    if catcher is not None:
        values["smtp_url"] = catcher.url
    values.update(overrides)
    settings = make_settings(tmp_path / "data", **values)
    services = build_services(settings)
    async with running_app(settings, services=services) as client:
        yield client, services


def other_client(
    client: httpx.AsyncClient,
    ip: str = "198.51.100.9",
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0",
) -> httpx.AsyncClient:
    """A second browser on the same app (own cookies, own address and user agent)."""
    transport = httpx.ASGITransport(app=client.app, client=(ip, 50001))  # type: ignore[attr-defined]
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": user_agent}
    )


async def sign_up(
    client: httpx.AsyncClient, username: str, email: str = "", password: str = PASSWORD
) -> None:
    response = await form_post(
        client, "/sign-up", {"username": username, "email": email, "password": password}
    )
    assert response.status_code == 303, response.text


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    return await form_post(client, "/sign-in", {"username": username, "password": password})


async def verify_from_mail(client: httpx.AsyncClient, catcher: MailCatcher, email: str) -> None:
    mails = [m for m in catcher.wait_for(1) if email in m.rcpt_tos and "Confirm" in m.subject]
    assert mails, f"no verification mail to {email}"
    token = mails[-1].token("/verify-email")
    response = await client.get("/verify-email", params={"token": token})
    assert response.status_code in (200, 303), response.text


async def sign_up_verified(
    client: httpx.AsyncClient,
    catcher: MailCatcher,
    username: str = "zoe",
    email: str = "zoe@example.com",
) -> None:
    """An account whose address is confirmed: the only kind that receives reset mail."""
    await sign_up(client, username, email)
    await verify_from_mail(client, catcher, email)


async def forgot(client: httpx.AsyncClient, login: str, **kwargs: Any) -> httpx.Response:
    return await form_post(client, "/forgot-password", {"login": login}, **kwargs)


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    response = await client.get("/welcome")
    return response.status_code == 200


async def open_reset_link(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Follow the mail link: the token moves to a cookie, then the form is shown."""
    first = await client.get("/reset-password", params={"token": token})
    assert first.status_code == 303, first.text
    assert "token" not in first.headers["location"]
    return await client.get(first.headers["location"])


async def submit_reset(
    client: httpx.AsyncClient, form_html: str, password: str, **extra: str
) -> httpx.Response:
    from tests.support import csrf_of

    token = re.search(r'name="token" value="([^"]+)"', form_html)
    assert token, "no token field in the reset form"
    fields = {"csrf_token": csrf_of(form_html), "token": token.group(1), "password": password}
    fields.update(extra)
    return await client.post("/reset-password", data=fields)
