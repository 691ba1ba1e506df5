"""SPEC 5a with a second factor (SPEC 13): the proof is given when the second step completes, and
a trusted browser finishes both steps while strangers keep the username locked; its wrong codes
count on its own proof."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.http.twofactorflows import (
    PASSWORD,
    App,
    cookie_header,
    password_step,
    second_step,
    signed_up_and_enrolled,
    strength,
    two_factor_app,
)

WRONG = "not the password at all"


def stranger(app: App) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app.client.app, client=("198.51.100.66", 50002))  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def lock_out(app: App) -> None:
    async with stranger(app) as other:
        for _ in range(3):
            guess = await other.post(
                "/api/v1/session", json={"username": "alice", "password": WRONG}
            )
            assert guess.status_code == 401
        refused = await other.post(
            "/api/v1/session", json={"username": "alice", "password": PASSWORD}
        )
        assert refused.status_code == 429


async def test_second_step_gives_the_proof_and_a_trusted_browser_passes_both_steps(
    tmp_path: Path,
) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, _codes = await signed_up_and_enrolled(app)
        first = await password_step(app)
        assert first.status_code == 303
        assert cookie_header(first, "device") is None  # no proof before the second step
        done = await second_step(app, app.code(secret))
        assert done.status_code == 303
        assert cookie_header(done, "device") is not None
        device = app.client.cookies["device"]
        app.next_step()

        await lock_out(app)
        app.client.cookies.clear()
        app.client.cookies.set("device", device)
        assert (await password_step(app)).status_code == 303
        finished = await second_step(app, app.code(secret))
        assert finished.status_code == 303
        assert finished.headers["location"] == "/welcome"
        assert await strength(app) is True
        app.next_step()

        # The API: the proof in the body carries both steps, and the 201 gives a new one.
        app.client.cookies.clear()
        body = {"username": "alice", "password": PASSWORD, "device_token": device}
        pending = await app.client.post("/api/v1/session", json=body)
        assert pending.status_code == 202
        step = {"challenge": pending.json()["challenge"], "code": app.code(secret)}
        created = await app.client.post("/api/v1/session/two-factor", json=step)
        assert created.status_code == 201
        assert created.json()["device_token"]
        # Strangers are still refused.
        async with stranger(app) as other:
            refused = await other.post(
                "/api/v1/session", json={"username": "alice", "password": PASSWORD}
            )
            assert refused.status_code == 429


async def test_a_trusted_browsers_wrong_codes_lock_its_proof(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, _codes = await signed_up_and_enrolled(app)
        await password_step(app)
        await second_step(app, app.code(secret))
        device = app.client.cookies["device"]
        app.next_step()
        await lock_out(app)
        app.client.cookies.clear()
        app.client.cookies.set("device", device)
        assert (await password_step(app)).status_code == 303
        wrong = app.code(secret, 7)
        assert [(await second_step(app, wrong)).status_code for _ in range(3)] == [401] * 3
        # The proof is locked now: the next attempt is untrusted and meets the stranger's lock.
        assert (await password_step(app)).status_code == 429
