"""SPEC 13 over HTTP, API: 202 then 201, wrong codes and used challenges as problems, and two
racing uses of one code."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.http.twofactorflows import (
    PASSWORD,
    cookie_header,
    signed_up_and_enrolled,
    two_factor_app,
)


async def test_api_sign_in_answers_202_then_201(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, codes = await signed_up_and_enrolled(app)
        body = {"username": "alice", "password": PASSWORD}
        first = await app.client.post("/api/v1/session", json=body)
        assert first.status_code == 202
        data = first.json()
        assert data["two_factor_required"] is True
        assert data["methods"] == ["totp", "recovery"]
        assert data["expires_at"].startswith("2027-01-15T08:05:4")  # now + 300 s
        assert cookie_header(first, "session") is None
        step = {"challenge": data["challenge"], "code": app.code(secret)}
        wrong = await app.client.post("/api/v1/session/two-factor", json={**step, "code": "999999"})
        if app.code(secret) != "999999":
            assert wrong.status_code == 401
            assert wrong.headers["content-type"] == "application/problem+json"
            assert wrong.json()["type"].endswith("/invalid_code")
        done = await app.client.post("/api/v1/session/two-factor", json=step)
        assert done.status_code == 201
        token = done.json()["token"]
        me = await app.client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["two_factor"] is True
        again = await app.client.post("/api/v1/session/two-factor", json={**step, "code": codes[0]})
        assert again.status_code == 401  # the challenge was used
        assert again.json()["type"].endswith("/challenge_invalid")
        not_json = await app.client.post("/api/v1/session/two-factor", content=b"x")
        assert not_json.status_code == 415
        missing = await app.client.post("/api/v1/session/two-factor", json={"code": "1"})
        assert missing.status_code == 422


async def test_two_racing_uses_of_one_code_sign_in_once(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, _ = await signed_up_and_enrolled(app)
        body = {"username": "alice", "password": PASSWORD}
        challenges = []
        for _ in range(2):
            first = await app.client.post("/api/v1/session", json=body)
            challenges.append(first.json()["challenge"])
        code = app.code(secret)
        answers = await asyncio.gather(
            *(
                app.client.post("/api/v1/session/two-factor", json={"challenge": c, "code": code})
                for c in challenges
            )
        )
        assert sorted(a.status_code for a in answers) == [201, 401]


async def test_remember_is_kept_from_the_first_step_unless_the_second_says(
    tmp_path: Path,
) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, _ = await signed_up_and_enrolled(app)
        body = {"username": "alice", "password": PASSWORD, "remember": True}
        for second, remembered in ((None, True), (False, False)):
            first = await app.client.post("/api/v1/session", json=body)
            step = {"challenge": first.json()["challenge"], "code": app.code(secret)}
            if second is not None:
                step["remember"] = second
            done = await app.client.post("/api/v1/session/two-factor", json=step)
            assert done.status_code == 201
            cookie = cookie_header(done, "session")
            assert cookie is not None
            assert ("Max-Age=" in cookie) is remembered
            app.next_step()
