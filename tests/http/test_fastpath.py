"""The edge answers checks and sign-ins exactly as the routes do; the access log's line.

Two apps share one set of services: the real one (`create_app`), and the same app built with
`fast_paths=False`, where every request goes through FastAPI's stack and router. Every case
must give the same status, headers and body on both.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from signin.accounts.clock import FrozenClock
from signin.app import create_app
from signin.services import Services, build_services
from signin.web.accesslog import AccessLogMiddleware
from signin.web.api import SignInIn
from signin.web.edge import Dispatcher, Hot, read_json
from signin.web.observe import ObserveMiddleware
from signin.web.proxy import ProxyHeadersMiddleware
from signin.web.security import SecurityMiddleware
from tests.support import make_settings, migrated

PASSWORD = "correct horse battery"
PEER = ("203.0.113.7", 50000)
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "cache-control")


@dataclass
class Pair:
    fast: httpx.AsyncClient
    routed: httpx.AsyncClient
    clock: FrozenClock
    hot: dict[tuple[str, str], Hot]  # the fast app's dispatcher table
    services: Services

    async def same(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        """Send one request to both apps; assert identical answers; return the fast one."""
        fast = await self.fast.request(method, url, **kwargs)  # type: ignore[arg-type]
        routed = await self.routed.request(method, url, **kwargs)  # type: ignore[arg-type]
        assert fast.status_code == routed.status_code, (method, url)
        assert fast.headers.multi_items() == routed.headers.multi_items(), (method, url)
        assert fast.content == routed.content, (method, url)
        for name in SECURITY_HEADERS:
            assert name in fast.headers, (method, url, name)
        return fast

    async def same_sign_in(self, **kwargs: object) -> httpx.Response:
        """POST /api/v1/session to both apps: answers equal except for the new token."""
        fast = await self.fast.post("/api/v1/session", **kwargs)  # type: ignore[arg-type]
        routed = await self.routed.post("/api/v1/session", **kwargs)  # type: ignore[arg-type]
        self.fast.cookies.clear()
        self.routed.cookies.clear()
        assert fast.status_code == routed.status_code
        if fast.status_code != 201:
            assert fast.headers.multi_items() == routed.headers.multi_items()
            assert fast.content == routed.content
            return fast
        assert [k for k, _ in fast.headers.multi_items()] == [
            k for k, _ in routed.headers.multi_items()
        ]
        for name in ("content-type", "cache-control", "content-security-policy"):
            assert fast.headers[name] == routed.headers[name]
        fast_cookies = fast.headers.get_list("set-cookie")
        routed_cookies = routed.headers.get_list("set-cookie")
        assert len(fast_cookies) == len(routed_cookies) == 2  # the session and the device proof
        for fast_cookie, routed_cookie in zip(fast_cookies, routed_cookies, strict=True):
            # All but the value (a new token, a new device proof).
            assert fast_cookie.split("=")[0] == routed_cookie.split("=")[0]
            assert fast_cookie.split(";")[1:] == routed_cookie.split(";")[1:]
        assert fast.json().keys() == routed.json().keys()
        assert fast.json()["username"] == routed.json()["username"]
        assert fast.json()["token"] != routed.json()["token"]
        return fast


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    settings = make_settings(
        tmp_path / "data",
        session_idle_seconds=100,
        public_url="https://auth.example.com",
        allowed_redirect_hosts="app.example.com",
    )
    clock = FrozenClock()
    services = build_services(settings, clock=clock)
    await migrated(settings.sqlalchemy_url)
    fast_app = create_app(settings, services=services)
    routed_app = create_app(settings, services=services, fast_paths=False)
    async with fast_app.router.lifespan_context(fast_app):
        fast_t = httpx.ASGITransport(app=fast_app, client=PEER)
        routed_t = httpx.ASGITransport(app=routed_app, client=PEER)
        base = "http://testserver"
        async with (
            httpx.AsyncClient(transport=fast_t, base_url=base) as fast,
            httpx.AsyncClient(transport=routed_t, base_url=base) as routed,
        ):
            yield Pair(fast, routed, clock, dispatcher_of(fast_app).hot, services)


async def token_for(pair: Pair, username: str = "alice") -> str:
    body = {"username": username, "password": PASSWORD}
    assert (await pair.fast.post("/api/v1/users", json=body)).status_code == 201
    created = await pair.fast.post("/api/v1/session", json=body)
    assert created.status_code == 201
    token: str = created.json()["token"]
    pair.fast.cookies.clear()  # each case sends its own credentials, to both apps
    return token


def dispatcher_of(app: object, layers: list[object] | None = None) -> Dispatcher:
    """The dispatcher inside `app.edge`; the layers around it appended to `layers`."""
    inner = app.edge  # type: ignore[attr-defined]
    while not isinstance(inner, Dispatcher):
        (layers if layers is not None else []).append(type(inner))
        inner = inner.app
    return inner


def test_one_edge_around_one_dispatcher(tmp_path: Path) -> None:
    app, layers = create_app(make_settings(tmp_path)), []
    session, verify = "/api/v1/session", "/api/v1/verify"
    hot = {("GET", session), ("POST", session), ("GET", verify), ("HEAD", verify)}
    assert set(dispatcher_of(app, layers).hot) == hot
    assert layers == [
        ProxyHeadersMiddleware,
        ObserveMiddleware,
        AccessLogMiddleware,
        SecurityMiddleware,
    ]
    assert app.user_middleware == []  # FastAPI builds no second stack
    assert dispatcher_of(create_app(make_settings(tmp_path), fast_paths=False)).hot == {}


async def test_session_strength_same_on_both_paths(pair: Pair) -> None:
    """`two_factor` is false for a password sign-in, true for a session made with a factor."""
    weak = await token_for(pair)
    answer = await pair.same("GET", "/api/v1/session", headers={"Cookie": f"session={weak}"})
    assert answer.json()["two_factor"] is False
    user = await pair.services.users.by_canon("alice")
    assert user is not None
    strong = await pair.services.sessions.issue(
        user.id, remember=False, ip=None, user_agent=None, two_factor=True
    )
    bearer = {"Authorization": f"Bearer {strong.token}"}
    answer = await pair.same("GET", "/api/v1/session", headers=bearer)
    assert answer.status_code == 200
    assert answer.json()["two_factor"] is True


async def test_session_check_same_on_both_paths(pair: Pair) -> None:
    token = await token_for(pair)
    cookie = {"Cookie": f"session={token}"}
    bearer = {"Authorization": f"Bearer {token}"}
    ok = await pair.same("GET", "/api/v1/session", headers=cookie)
    assert ok.status_code == 200
    assert ok.json()["username"] == "alice"
    assert (await pair.same("GET", "/api/v1/session", headers=bearer)).status_code == 200
    missing = await pair.same("GET", "/api/v1/session")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert (
        await pair.same("GET", "/api/v1/session", headers={"Cookie": "session=x"})
    ).status_code == 401
    # Not on the fast path: answered by the router on both apps.
    assert (await pair.same("HEAD", "/api/v1/session", headers=cookie)).status_code == 405
    wrong = await pair.same("PUT", "/api/v1/session", headers=cookie)
    assert wrong.status_code == 405
    assert "allow" in wrong.headers  # from the router (the first partial match)
    assert (await pair.same("GET", "/api/v1/session/", headers=cookie)).status_code in (307, 404)
    pair.clock.advance(101)  # past the idle limit
    expired = await pair.same("GET", "/api/v1/session", headers=cookie)
    assert expired.status_code == 401


async def test_verify_same_on_both_paths(pair: Pair) -> None:
    token = await token_for(pair, "Zoë")
    cookie = {"Cookie": f"session={token}"}
    signed_in = await pair.same("GET", "/api/v1/verify", headers=cookie)
    assert signed_in.status_code == 200
    assert dict(signed_in.headers.raw)[b"remote-user"] == "Zoë".encode()
    head = await pair.same("HEAD", "/api/v1/verify", headers=cookie)
    assert head.status_code == 200
    assert (
        await pair.same("GET", "/api/v1/verify", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    anonymous = await pair.same("GET", "/api/v1/verify")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="signin"'
    back = "https://app.example.com/x?y=1"
    redirect = await pair.same(
        "GET", "/api/v1/verify", params=[("rd", "https://evil.test/"), ("rd", back)]
    )
    assert redirect.status_code == 302  # the last rd= counts, on both paths
    assert (
        await pair.same("GET", "/api/v1/verify", params={"rd": "https://evil.test/"})
    ).status_code == 401
    assert (await pair.same("POST", "/api/v1/verify", headers=cookie)).status_code == 405
    pair.clock.advance(101)
    assert (await pair.same("GET", "/api/v1/verify", headers=cookie)).status_code == 401


async def test_access_log_line(pair: Pair, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="signin.access"):
        await pair.fast.get("/api/v1/session?token=secret-in-query")
        await pair.fast.get("/no%25such")
    lines = [r.getMessage() for r in caplog.records if r.name == "signin.access"]
    assert len(lines) == 2
    assert re.fullmatch(r'203\.0\.113\.7 "GET /api/v1/session" 401 \d+\.\dms', lines[0])
    assert re.fullmatch(r'203\.0\.113\.7 "GET /no%such" 404 \d+\.\dms', lines[1])
    assert all("secret" not in line for line in lines)


async def test_access_log_puts_successful_checks_at_debug(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    token = await token_for(pair)
    cookie = {"Cookie": f"session={token}"}

    async def logged(level: int) -> list[tuple[int, str]]:
        caplog.clear()
        with caplog.at_level(level, logger="signin.access"):
            assert (await pair.fast.get("/api/v1/session", headers=cookie)).status_code == 200
            assert (await pair.fast.head("/api/v1/verify", headers=cookie)).status_code == 200
            assert (await pair.fast.get("/api/v1/verify")).status_code == 401
            assert (await pair.fast.delete("/api/v1/session", headers=cookie)).status_code == 204
        return [(r.levelno, r.getMessage().split(" ")[2]) for r in caplog.records]

    # Denied checks and everything else stay at INFO; allowed checks only show at DEBUG.
    assert await logged(logging.INFO) == [
        (logging.INFO, '/api/v1/verify"'),
        (logging.INFO, '/api/v1/session"'),
    ]
    cookie["Cookie"] = f"session={await token_for(pair, 'bob')}"  # the first one signed out
    assert [level for level, _ in await logged(logging.DEBUG)] == [
        logging.DEBUG,
        logging.DEBUG,
        logging.INFO,
        logging.INFO,
    ]


async def test_sign_in_same_on_both_paths(pair: Pair) -> None:
    for name in ("alice", "bob", "carol"):
        body = {"username": name, "password": PASSWORD}
        assert (await pair.fast.post("/api/v1/users", json=body)).status_code == 201
    pair.fast.cookies.clear()
    good = {"username": "alice", "password": PASSWORD}
    assert (await pair.same_sign_in(json=good)).status_code == 201
    remembered = await pair.same_sign_in(json={**good, "remember": True})
    assert "max-age=" in remembered.headers["set-cookie"].lower()
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert (await pair.same_sign_in(content=json.dumps(good), headers=charset)).status_code == 201
    # Username spelling and surrounding spaces are the route's rules on both paths.
    assert (await pair.same_sign_in(json={**good, "username": " ALICE "})).status_code == 201

    wrong = await pair.same_sign_in(json={"username": "bob", "password": "not it"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert (
        await pair.same_sign_in(json={"username": "nobody", "password": "x"})
    ).status_code == 401
    for _ in range(3):  # carol's limit, reached through one app: both count the next attempts
        wrong_carol = {"username": "carol", "password": "not it"}
        assert (await pair.fast.post("/api/v1/session", json=wrong_carol)).status_code == 401
    locked = await pair.same_sign_in(json={"username": "carol", "password": PASSWORD})
    assert locked.status_code == 429
    assert "retry-after" in locked.headers


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        ('{"username": "alice", "password": "x"}', "text/plain", 415),
        ('{"username": "alice", "password": "x"}', None, 415),
        ('{"username": "alice",', "application/json", 400),  # not JSON
        ("[]", "application/json", 422),
        ('{"username": "alice"}', "application/json", 422),
        ('{"username": 1, "password": "x"}', "application/json", 422),
        ('{"username": "alice", "password": "x", "admin": true}', "application/json", 422),
        ('{"username": "alice", "password": "' + "p" * 4097 + '"}', "application/json", 422),
        (b'{"username": "\xff", "password": "x"}', "application/json", 400),  # not UTF-8
        ("", "application/json", 422),
        ('{"username": "alice", "password": "' + "p" * 70_000 + '"}', "application/json", 413),
    ],
)
async def test_refused_sign_in_bodies_same_on_both_paths(
    pair: Pair, content: str | bytes, content_type: str | None, status: int
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    refused = await pair.same_sign_in(content=content, headers=headers)
    assert refused.status_code == status


async def test_chunked_body_over_the_limit_same_on_both_paths(pair: Pair) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "alice", "password": "'
        for _ in range(70):
            yield b"p" * 1024
        yield b'"}'

    for client in (pair.fast, pair.routed):
        response = await client.post(
            "/api/v1/session", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413


@pytest.mark.parametrize(
    ("chunks", "content_type", "taken"),
    [
        ([b'{"username": "a", ', b'"password": "b"}'], b"application/json", True),
        ([b'{"username": "a", "password": "b"}'], b"text/plain", False),
        ([b'{"username": "a", "password": 1}'], b"application/json", False),
        ([b"p" * 40_000, b"p" * 40_000], b"application/json", False),
    ],
)
async def test_read_json_takes_only_valid_sign_ins_and_replays_the_body(
    chunks: list[bytes], content_type: bytes, taken: bool
) -> None:
    sent = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    queue = list(sent)

    async def receive() -> dict[str, object]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    scope = {"type": "http", "headers": [(b"content-type", content_type)]}
    body, replay = await read_json(scope, receive, SignInIn)  # type: ignore[arg-type]
    assert (body is not None) is taken
    # Whoever goes on reads every message the client sent, in order, and then the rest.
    assert [await replay() for _ in sent] == sent
    assert await replay() == {"type": "http.disconnect"}


async def test_only_well_formed_sign_ins_take_the_fast_path(pair: Pair) -> None:
    taken: list[tuple[str, str]] = []

    def counting(key: tuple[str, str], inner: Hot) -> Hot:
        async def call(request: Request, body: object) -> Response:
            taken.append(key)
            return await inner.call(request, body)

        return Hot(call, inner.model)

    pair.hot.update({key: counting(key, inner) for key, inner in pair.hot.items()})
    body = {"username": "alice", "password": PASSWORD}
    assert (await pair.fast.post("/api/v1/users", json=body)).status_code == 201
    assert (await pair.fast.post("/api/v1/session", json=body)).status_code == 201
    assert (await pair.fast.get("/api/v1/session")).status_code == 200
    assert (await pair.fast.post("/api/v1/session", content=b"{")).status_code == 415
    assert (await pair.fast.post("/api/v1/session", json={"username": 1})).status_code == 422
    assert taken == [("POST", "/api/v1/session"), ("GET", "/api/v1/session")]
