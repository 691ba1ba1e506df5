"""The core journey through pages and API, on the ASGI app with a real SQLite file."""

from __future__ import annotations

import httpx

from tests.support import form_post


async def test_sign_up_then_welcome_greets_user(client: httpx.AsyncClient) -> None:
    response = await form_post(
        client, "/sign-up", {"username": "Zoë", "password": "correct horse battery"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/welcome"
    welcome = await client.get("/welcome")
    assert welcome.status_code == 200
    assert "Welcome, Zoë!" in welcome.text


async def test_api_sign_in_with_other_case(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/users", json={"username": "Straße", "password": "correct horse battery"}
    )
    assert created.status_code == 201
    session = await client.post(
        "/api/v1/session", json={"username": "STRASSE", "password": "correct horse battery"}
    )
    assert session.status_code == 201, session.text
    token = session.json()["token"]
    me = await client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "Straße"
