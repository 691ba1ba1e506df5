"""Security headers everywhere, CSRF 403, 413 over 64 KiB, 404/500 pages without stack traces."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import Response

from signin.settings import Settings
from signin.web.security import SecurityMiddleware
from tests.support import csrf_of, running_app

PASSWORD = "correct horse battery"
BIG = 64 * 1024 + 1


def assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp, response.url
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") in (
        "no-referrer",
        "strict-origin-when-cross-origin",
    )


def assert_no_trace(response: httpx.Response) -> None:
    for leak in ("Traceback", 'File "', "RuntimeError", "planted-secret", ".py"):
        assert leak not in response.text, leak


@pytest.fixture
async def boom_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with two test-only routes that fail, one page and one API path."""
    async with running_app(settings) as client:
        app: FastAPI = client.app  # type: ignore[attr-defined]

        async def boom() -> None:
            raise RuntimeError("planted-secret failure in /srv/app.py")

        app.add_api_route("/test-boom", boom)
        app.add_api_route("/api/test-boom", boom)
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/sign-in",
        "/sign-up",
        "/sign-out",
        "/",
        "/welcome",
        "/static/css/signin.css",
        "/healthz",
        "/api/v1/session",
        "/api/openapi.json",
        "/no-such-page",
        "/static/nope.css",
    ],
)
async def test_headers_on_every_response(client: httpx.AsyncClient, path: str) -> None:
    assert_security_headers(await client.get(path))


async def test_headers_on_error_statuses(client: httpx.AsyncClient) -> None:
    assert_security_headers(await client.post("/sign-in", data={}))  # 403
    assert_security_headers(
        await client.post(
            "/api/v1/users", content=b"x" * BIG, headers={"content-type": "application/json"}
        )
    )
    assert_security_headers(await client.post("/api/v1/users", data={"a": "b"}))  # 415
    assert_security_headers(await client.put("/sign-in"))  # 405


async def test_referrer_policy_strict_on_token_pages(client: httpx.AsyncClient) -> None:
    assert (await client.get("/reset-password?token=x")).headers["referrer-policy"] == "no-referrer"
    assert (await client.get("/sign-in")).headers[
        "referrer-policy"
    ] == "strict-origin-when-cross-origin"


async def test_pages_are_not_cached(client: httpx.AsyncClient) -> None:
    assert (await client.get("/sign-in")).headers["cache-control"] == "no-store"


async def test_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in response.text
    assert_no_trace(response)
    api = await client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_500_page_without_stack_trace(boom_client: httpx.AsyncClient) -> None:
    page = await boom_client.get("/test-boom")
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in page.text
    assert_no_trace(page)
    assert_security_headers(page)
    api = await boom_client.get("/api/test-boom")
    assert api.status_code == 500
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["status"] == 500
    assert_no_trace(api)
    assert_security_headers(api)


async def test_500_is_logged_with_the_trace(
    boom_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await boom_client.get("/test-boom")
    assert "unhandled error on GET /test-boom: RuntimeError" in caplog.text


async def test_csrf_missing_token_is_403(client: httpx.AsyncClient) -> None:
    await client.get("/sign-up")  # has the CSRF cookie, sends no token
    for path in ("/sign-up", "/sign-in", "/sign-out"):
        response = await client.post(path, data={"username": "alice", "password": PASSWORD})
        assert response.status_code == 403, path
        assert "did not come from this site" in response.text
        assert_no_trace(response)


async def test_csrf_wrong_token_is_403(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-up")
    token = csrf_of(page.text)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = await client.post(
        "/sign-up", data={"csrf_token": tampered, "username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 403


async def test_csrf_without_cookie_is_403(client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/sign-up")).text)
    client.cookies.clear()
    response = await client.post(
        "/sign-up", data={"csrf_token": token, "username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 403


async def test_csrf_token_from_another_browser_is_403(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    attacker_token = csrf_of((await client.get("/sign-up")).text)
    async with running_app(settings, services=client.app.state.services) as victim:  # type: ignore[attr-defined]
        await victim.get("/sign-up")  # the victim's browser has its own CSRF cookie
        response = await victim.post(
            "/sign-up",
            data={"csrf_token": attacker_token, "username": "alice", "password": PASSWORD},
        )
        assert response.status_code == 403
        # ... while its own token works.
        own = csrf_of((await victim.get("/sign-up")).text)
        response = await victim.post(
            "/sign-up", data={"csrf_token": own, "username": "alice", "password": PASSWORD}
        )
        assert response.status_code == 303


async def test_413_with_content_length(client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/sign-in")).text)
    page = await client.post(
        "/sign-in", data={"csrf_token": token, "username": "a", "password": "x" * BIG}
    )
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")
    api = await client.post(
        "/api/v1/users",
        content=b"{" + b" " * BIG + b"}",
        headers={"content-type": "application/json"},
    )
    assert api.status_code == 413
    assert api.headers["content-type"].startswith("application/problem+json")


async def chunks(total: int, size: int = 8192) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


async def test_413_chunked(client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/sign-in")).text)
    page = await client.post(
        "/sign-in",
        content=chunks(BIG + 100_000),
        headers={"content-type": "application/x-www-form-urlencoded", "x-csrf": token},
    )
    assert page.status_code == 413
    assert "content-length" not in page.request.headers
    api = await client.post(
        "/api/v1/session", content=chunks(BIG), headers={"content-type": "application/json"}
    )
    assert api.status_code == 413
    assert api.headers["content-type"].startswith("application/problem+json")
    assert_security_headers(api)


async def test_64_kib_exactly_is_accepted(client: httpx.AsyncClient) -> None:
    body = b'{"username": "bob", "password": "' + b"x" * (64 * 1024 - 40) + b'"}'
    body = body[:-2] + b" " * (64 * 1024 - len(body)) + body[-2:]
    assert len(body) == 64 * 1024
    response = await client.post(
        "/api/v1/session", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code != 413


async def test_hsts_only_over_https(settings: Settings) -> None:
    async with running_app(settings) as plain:
        assert "strict-transport-security" not in (await plain.get("/sign-in")).headers
    async with running_app(settings, base_url="https://testserver") as tls:
        assert (await tls.get("/sign-in")).headers[
            "strict-transport-security"
        ] == "max-age=31536000"


async def test_client_gone_mid_body_is_not_an_error(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    app: FastAPI = client.app  # type: ignore[attr-defined]
    sent: list[dict[str, object]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/sign-in",
        "raw_path": b"/sign-in",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ],
        "client": ("203.0.113.7", 5000),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    assert "unhandled error" not in caplog.text
    assert not [m for m in sent if m.get("status") == 500]


async def test_handler_headers_kept_or_replaced_never_doubled() -> None:
    """A handler's CSP, HSTS and Cache-Control stay; the fixed headers are always ours."""

    async def handler(scope: object, receive: object, send: object) -> None:
        own = {
            "Content-Security-Policy": "default-src 'none'",
            "Cache-Control": "public, max-age=60",
            "Strict-Transport-Security": "max-age=1",
            "X-Frame-Options": "SAMEORIGIN",
            "Referrer-Policy": "unsafe-url",
            "X-Custom": "kept",
        }
        await Response("ok", headers=own)(scope, receive, send)  # type: ignore[arg-type]

    app = SecurityMiddleware(handler, csp="default-src 'self'")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.get("/reset-password")
    names = [name.lower() for name, _ in response.headers.multi_items()]
    assert len(names) == len(set(names)), names
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["strict-transport-security"] == "max-age=1"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert response.headers["x-custom"] == "kept"
