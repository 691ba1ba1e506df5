"""Hostile requests get a 4xx with every security header, on SQLite and PostgreSQL (SPEC 16).

Deep JSON, huge numbers, invalid UTF-8, NUL bytes, oversized heads, forged Host headers and
control characters in paths: none of them may get a 5xx, a bare answer from below the app, a
redirect to a host the client chose, or a forged access-log line.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from signin.settings import Settings
from tests.backends import fresh_database, need_postgres
from tests.support import form_post, make_settings, running_app

PASSWORD = "correct horse battery"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def any_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield make_settings(tmp_path / "data")
        return
    with fresh_database(need_postgres()) as url:
        yield make_settings(tmp_path / "data", database_url=url)


@pytest.fixture
async def hostile(any_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(any_settings) as client:
        made = await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
        assert made.status_code == 201
        yield client


def assert_guarded(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def json_post(client: httpx.AsyncClient, path: str, body: bytes) -> object:
    return client.post(path, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("path", ["/api/v1/session", "/api/v1/users"])
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 20_000 + b"]" * 20_000,
        b'{"username": ' + b"[" * 20_000 + b"]" * 20_000 + b', "password": "x"}',
        b'{"username": "alice", "password": "x", "remember": ' + b"9" * 5000 + b"}",
        b'{"username": "alice", "password": "x", "remember": 1e999}',
        b'{"username": "al\xff\xfeice", "password": "x"}',
        b'{"username": "alice", "password": "\xc3"}',
    ],
    ids=["deep", "deep-field", "long-int", "huge-float", "bad-utf8-name", "bad-utf8-password"],
)
async def test_malformed_json_is_a_4xx_with_headers(
    hostile: httpx.AsyncClient, path: str, body: bytes
) -> None:
    assert_guarded(await json_post(hostile, path, body), 400, 422)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["username", "password", "email"])
async def test_nul_bytes_in_api_fields_are_refused(hostile: httpx.AsyncClient, field: str) -> None:
    fields = {"username": "bob", "password": PASSWORD, "email": "bob@example.org"}
    fields[field] = fields[field][:2] + "\0" + fields[field][2:]
    # A password is only hashed: a NUL in it is the user's business, never a 5xx.
    allowed = (201,) if field == "password" else (422,)
    signed_up = await hostile.post("/api/v1/users", json=fields)
    assert_guarded(signed_up, *allowed)
    fields.pop("email")
    signed_in = await hostile.post("/api/v1/session", json=fields)
    assert_guarded(signed_in, *allowed, 401, 422)


@pytest.mark.parametrize(
    ("page", "fields"),
    [
        ("/sign-in", {"username": "al\0ice", "password": PASSWORD}),
        ("/sign-up", {"username": "b\0b", "password": PASSWORD}),
        ("/sign-up", {"username": "bob", "password": PASSWORD, "email": "b\0b@example.org"}),
        ("/forgot-password", {"login": "al\0ice"}),
        ("/forgot-password", {"login": "a\0@example.org"}),
    ],
)
async def test_nul_bytes_in_forms_are_refused(
    hostile: httpx.AsyncClient, page: str, fields: dict[str, str]
) -> None:
    assert_guarded(await form_post(hostile, page, fields), 401, 422)


@pytest.mark.parametrize("path", ["/api/v1/session/", "/welcome/", "/sign-in/", "/account/"])
async def test_no_redirect_takes_its_host_from_the_request(
    hostile: httpx.AsyncClient, path: str
) -> None:
    for method in ("GET", "POST"):
        answer = await hostile.request(method, path, headers={"host": "evil.example"})
        assert "evil.example" not in answer.headers.get("location", "")
        assert_guarded(answer, 404, 405)


async def test_an_oversized_head_is_431(hostile: httpx.AsyncClient) -> None:
    assert_guarded(await hostile.get("/api/v1/session", headers={"x-big": "a" * 17_000}), 431)
    many = [(f"x-h{n}", "v") for n in range(2_000)]
    answer = await hostile.get("/sign-in", headers=many)
    assert_guarded(answer, 431)
    assert answer.headers["content-type"].startswith("text/html")
    problem = await hostile.post("/api/v1/session", headers=many, json={})
    assert_guarded(problem, 431)
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert_guarded(await hostile.get("/api/v1/session", headers={"x-ok": "a" * 15_000}), 401)


async def test_control_characters_in_paths_are_escaped_in_the_access_log(
    hostile: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="signin.access"):
        await hostile.get("/x%0a203.0.113.9 %22GET /admin%22 200 1.0ms%1b[2J%e2%80%ae")
    lines = [record.getMessage() for record in caplog.records if record.name == "signin.access"]
    assert len(lines) == 1
    assert "\n" not in lines[0]
    assert "\x1b" not in lines[0]
    assert "\u202e" not in lines[0]
    assert "/x\\x0a203.0.113.9" in lines[0]
    assert "\\x1b[2J\\u202e" in lines[0]


async def test_an_error_before_the_app_still_gets_headers(
    hostile: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last-resort layer answers what escapes every other: 500, with the headers."""

    async def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("signin.web.accesslog.AccessLogMiddleware.__call__", broken)
    answer = await hostile.post("/api/v1/session", json={"username": "a", "password": "b"})
    assert answer.status_code == 500
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


async def test_favicon_is_served(hostile: httpx.AsyncClient) -> None:
    answer = await hostile.get("/favicon.ico")
    assert_guarded(answer, 200)
    assert answer.content.startswith(b"\0\0\1\0")  # an ICO file
    assert "max-age" in answer.headers["cache-control"]
