"""Helpers for the two-factor HTTP tests: an app on a frozen clock, enrolment through the pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from signin.accounts.clock import FrozenClock
from signin.accounts.factors import totp
from signin.services import Services, build_services
from tests.support import csrf_of, form_post, make_settings, running_app

PASSWORD = "correct horse battery"
SECRET_RE = re.compile(r"data-totp-secret>([A-Z2-7]+)<")
CODE_RE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


@dataclass
class App:
    client: httpx.AsyncClient
    services: Services
    clock: FrozenClock

    def code(self, secret: str, offset: int = 0) -> str:
        return totp.code_at(secret, totp.step_at(self.clock()) + offset)

    def next_step(self) -> None:
        self.clock.advance(totp.STEP_SECONDS)


@asynccontextmanager
async def two_factor_app(tmp_path: Path, **overrides: Any) -> AsyncIterator[App]:
    settings = make_settings(tmp_path / "data", **overrides)
    clock = FrozenClock(1_800_000_010.0)
    services = build_services(settings, clock=clock)
    async with running_app(settings, services=services) as client:
        yield App(client, services, clock)


async def sign_up(app: App, username: str = "alice") -> None:
    created = await app.client.post(
        "/api/v1/users", json={"username": username, "password": PASSWORD}
    )
    assert created.status_code == 201


async def enrol(app: App) -> tuple[str, list[str]]:
    """Through the pages, signed in: set up, read the secret, confirm; the secret and codes."""
    page = await app.client.get("/account/two-factor")
    assert page.status_code == 200
    assert 'data-two-factor-state="off"' in page.text
    began = await app.client.post(
        "/account/two-factor/begin", data={"csrf_token": csrf_of(page.text)}
    )
    assert began.status_code == 303
    page = await app.client.get("/account/two-factor")
    assert 'data-two-factor-state="enrolling"' in page.text
    assert "<svg" in page.text
    match = SECRET_RE.search(page.text)
    assert match
    secret = match.group(1)
    token = csrf_of(page.text)
    wrong = await app.client.post(
        "/account/two-factor/confirm", data={"csrf_token": token, "code": app.code(secret, 5)}
    )
    assert wrong.status_code == 401
    assert "not right" in wrong.text
    done = await app.client.post(
        "/account/two-factor/confirm", data={"csrf_token": token, "code": app.code(secret)}
    )
    assert done.status_code == 200
    codes = CODE_RE.findall(done.text)
    assert len(codes) == 10
    again = await app.client.get("/account/two-factor")
    assert 'data-two-factor-state="on"' in again.text
    assert not CODE_RE.search(again.text)  # shown once
    app.next_step()
    return secret, codes


async def password_step(app: App, **extra: str) -> httpx.Response:
    response = await form_post(
        app.client, "/sign-in", {"username": "alice", "password": PASSWORD, **extra}
    )
    return response


def cookie_header(response: httpx.Response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return header
    return None


async def second_step(app: App, code: str) -> httpx.Response:
    page = await app.client.get("/sign-in/two-factor")
    assert page.status_code == 200, page.text
    return await app.client.post(
        "/sign-in/two-factor", data={"csrf_token": csrf_of(page.text), "code": code}
    )


async def strength(app: App) -> bool | None:
    me = await app.client.get("/api/v1/session")
    return me.json()["two_factor"] if me.status_code == 200 else None


async def signed_up_and_enrolled(app: App) -> tuple[str, list[str]]:
    await sign_up(app)
    await password_step(app)
    secret, codes = await enrol(app)
    app.client.cookies.clear()
    return secret, codes
