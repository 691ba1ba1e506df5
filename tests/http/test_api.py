"""SPEC section 8: /api/v1 users and session, Bearer tokens, problem+json, 415, /healthz."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from signin.crypto.passwords import PasswordHasher
from signin.crypto.prehash import prehash_v1
from signin.services import build_services
from signin.settings import Settings
from signin.stores.sql.engine import create_engine
from tests.support import form_post, running_app

PASSWORD = "correct horse battery"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


async def test_create_user(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/users", json={"username": "Zoë", "password": PASSWORD, "email": "zoe@example.com"}
    )
    assert created.status_code == 201
    assert created.json() == {"username": "Zoë", "email": "zoe@example.com"}
    plain = await client.post("/api/v1/users", json={"username": "bob", "password": PASSWORD})
    assert plain.json() == {"username": "bob", "email": None}


async def test_create_user_conflicts(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/users", json={"username": "Straße", "password": PASSWORD, "email": "s@example.com"}
    )
    by_canon = await client.post(
        "/api/v1/users", json={"username": "STRASSE", "password": PASSWORD}
    )
    assert assert_problem(by_canon, 409)["type"].endswith("username_taken")  # type: ignore[union-attr]
    by_email = await client.post(
        "/api/v1/users", json={"username": "other", "password": PASSWORD, "email": "S@EXAMPLE.COM"}
    )
    assert assert_problem(by_email, 409)["type"].endswith("email_taken")  # type: ignore[union-attr]


async def test_create_user_422_lists_every_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/users", json={"username": "a", "password": "password", "email": "nope"}
    )
    body = assert_problem(response, 422)
    codes = {(e["field"], e["code"]) for e in body["errors"]}  # type: ignore[attr-defined]
    assert codes == {
        ("username", "username_length"),
        ("email", "email_invalid"),
        ("password", "password_too_common"),
    }


async def test_create_user_schema_errors_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/api/v1/users", json={"username": "bob"}), 422)
    assert_problem(
        await client.post(
            "/api/v1/users", json={"username": "bob", "password": "x" * 9, "admin": True}
        ),
        422,
    )


@pytest.mark.parametrize(
    "body", [b"{bad", b"[" * 20_000 + b"]" * 20_000], ids=["malformed", "too-deep"]
)
async def test_a_body_that_is_not_json_is_a_translated_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    headers = {"content-type": "application/json", "Accept-Language": "de"}
    answer = assert_problem(await client.post("/api/v1/users", content=body, headers=headers), 400)
    assert answer["type"] == "https://signin.invalid/problems/bad_request"
    assert answer["detail"] == "Der Inhalt der Anfrage ist kein gültiges JSON."
    assert "errors" not in answer


async def test_schema_errors_say_each_field_in_the_readers_language(
    client: httpx.AsyncClient,
) -> None:
    body = {"username": 5, "email": "a\x00b@example.org", "invite": "x" * 200, "admin": True}
    for language in ("de", "ar", "ja"):
        answer = assert_problem(
            await client.post("/api/v1/users", json=body, headers={"Accept-Language": language}),
            422,
        )
        errors = {e["field"]: e for e in answer["errors"]}  # type: ignore[attr-defined]
        codes = {field: e["code"] for field, e in errors.items()}
        assert codes == {
            "username": "string_type",
            "password": "missing",
            "email": "string_pattern_mismatch",
            "invite": "string_too_long",
            "admin": "extra_forbidden",
        }
        details = [e["detail"] for e in errors.values()]
        assert len(set(details)) == len(details)
        for detail in details:
            assert not any(english in detail for english in ("Field", "Input", "String", "^"))
        assert "128" in errors["invite"]["detail"]
        if language == "de":
            assert errors["password"]["detail"] == "Dieses Feld fehlt."
            assert errors["invite"]["detail"] == "Höchstens 128 Zeichen."


async def test_415_for_non_json_bodies(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/users", "/api/v1/session"):
        form = await client.post(path, data={"username": "bob", "password": PASSWORD})
        assert_problem(form, 415)
        text = await client.post(
            path, content=b'{"username": "bob"}', headers={"content-type": "text/plain"}
        )
        assert_problem(text, 415)
        untyped = await client.post(path, content=b"username=bob")
        assert_problem(untyped, 415)
    # A charset parameter is fine.
    ok = await client.post(
        "/api/v1/users",
        content=b'{"username":"bob","password":"%s"}' % PASSWORD.encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201


async def test_session_lifecycle_with_bearer(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
    created = await client.post("/api/v1/session", json={"username": "Alice", "password": PASSWORD})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"token", "username", "expires_at", "device_token"}
    assert body["username"] == "alice"
    assert "session=" in created.headers["set-cookie"]
    token = body["token"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    me = await client.get("/api/v1/session", headers=bearer)
    assert me.status_code == 200
    assert set(me.json()) == {"username", "created_at", "expires_at", "two_factor"}
    assert me.json()["two_factor"] is False
    assert (await client.get("/welcome", headers=bearer)).status_code == 200
    deleted = await client.delete("/api/v1/session", headers=bearer)
    assert deleted.status_code == 204
    assert_problem(await client.get("/api/v1/session", headers=bearer), 401)
    assert_problem(await client.delete("/api/v1/session", headers=bearer), 401)


async def test_session_by_cookie_and_delete(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
    await client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
    token = client.cookies["session"]
    assert (await client.get("/api/v1/session")).status_code == 200
    assert (await client.delete("/api/v1/session")).status_code == 204
    client.cookies.clear()
    client.cookies.set("session", token)
    assert_problem(await client.get("/api/v1/session"), 401)


async def test_session_401_is_generic(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
    wrong = await client.post("/api/v1/session", json={"username": "alice", "password": "nope"})
    unknown = await client.post("/api/v1/session", json={"username": "ghost", "password": "nope"})
    assert assert_problem(wrong, 401) == assert_problem(unknown, 401)
    assert "set-cookie" not in wrong.headers or "session=" not in wrong.headers["set-cookie"]


async def test_anonymous_and_garbage_tokens_are_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/session"), 401)
    for header in ("Bearer nonsense", "Bearer " + "x" * 500, "Basic YWxpY2U6cHc=", "Bearer "):
        assert_problem(await client.get("/api/v1/session", headers={"Authorization": header}), 401)


async def test_prehash_and_plaintext_reach_the_same_account(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/users", json={"username": "Ørjan", "password": "pässwörd-ok"})
    for password in ("pässwörd-ok", prehash_v1("ØRJAN", "pässwörd-ok")):
        signed = await client.post(
            "/api/v1/session", json={"username": "ørjan", "password": password}
        )
        assert signed.status_code == 201, password


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"


async def test_healthz_503_when_database_is_gone(client: httpx.AsyncClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    working = services.engine  # the stores keep it: shutdown writes the audit events through it
    services.engine = create_engine("sqlite+aiosqlite:////nonexistent-dir/x/signin.db")
    try:
        body = assert_problem(await client.get("/healthz"), 503)
    finally:
        await services.engine.dispose()
        services.engine = working  # closed with the app, with the connections it holds
    assert str(body["checks"]["database"]).startswith("error")  # type: ignore[index]


async def test_openapi_lists_the_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/openapi.json")).json()
    paths = schema["paths"]
    assert {"post"} <= set(paths["/api/v1/users"])
    assert {"post", "get", "delete"} <= set(paths["/api/v1/session"])
    assert "/healthz" in paths
    assert "/sign-in" not in paths  # pages are not API


async def test_full_hash_queue_is_503_with_retry_after(settings: Settings) -> None:
    """One worker, no queue: while one verification runs, the next sign-in is refused at once."""
    hasher = PasswordHasher(time_cost=1, memory_kib=1024, parallelism=1, workers=1, queue=0)
    services = build_services(settings, hasher=hasher)
    gate = threading.Event()
    original = hasher.verify_sync

    def held(stored: str, prehash: str) -> tuple[bool, str | None]:
        gate.wait(10)
        return original(stored, prehash)

    async with running_app(settings, services=services) as client:
        await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
        hasher.verify_sync = held  # type: ignore[method-assign]
        body = {"username": "alice", "password": PASSWORD}
        first = asyncio.create_task(client.post("/api/v1/session", json=body))
        for _ in range(100):  # until the first one holds the only worker
            if hasher._pending["sign-in"]:
                break
            await asyncio.sleep(0.01)
        busy = await client.post("/api/v1/session", json=body)
        page = await form_post(client, "/sign-in", body)
        gate.set()
        assert (await first).status_code == 201
    assert_problem(busy, 503)
    assert busy.headers["retry-after"] == "1"
    assert page.status_code == 503
    assert page.headers["retry-after"] == "1"
    assert "busy" in page.text
