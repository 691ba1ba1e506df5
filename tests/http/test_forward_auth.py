"""GET /api/v1/verify (SPEC section 8) and SIGNIN_COOKIE_DOMAIN, on the ASGI app with SQLite."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from signin.services import Services
from tests.support import form_post, make_settings, running_app

PASSWORD = "correct horse battery"
PEER = "203.0.113.7"  # the address running_app's transport reports as the client
PUBLIC = "https://auth.example.com"
ALLOWED = "app.example.com,*.apps.example.org"
ORIGINAL = "https://app.example.com/private?x=1&y=%2F"


def services(client: httpx.AsyncClient) -> Services:
    found: Services = client.app.state.services  # type: ignore[attr-defined]
    return found


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """signin behind a trusted proxy at PEER, with allowed app hosts."""
    settings = make_settings(
        tmp_path / "data",
        public_url=PUBLIC,
        trusted_proxies=PEER,
        allowed_redirect_hosts=ALLOWED,
    )
    async with running_app(settings) as http:
        yield http


async def sign_up_and_in(client: httpx.AsyncClient, username: str, email: str = "") -> str:
    body = {"username": username, "password": PASSWORD, **({"email": email} if email else {})}
    created = await client.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    session = await client.post(
        "/api/v1/session", json={"username": username, "password": PASSWORD}
    )
    assert session.status_code == 201, session.text
    token: str = session.json()["token"]
    return token


def assert_signed_link(client: httpx.AsyncClient, location: str, target: str) -> None:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PUBLIC}/sign-in"
    query = parse_qs(parts.query)
    assert query["next"] == [target]
    assert services(client).redirects.verified(target, query["sig"][0], "/x") == target


async def test_anonymous_gets_401_problem_not_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/verify")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert response.headers["cache-control"] == "no-store"
    assert "remote-user" not in response.headers
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_cookie_session_gives_remote_user_without_unverified_email(
    client: httpx.AsyncClient,
) -> None:
    await sign_up_and_in(client, "alice", "alice@example.com")
    response = await client.get("/api/v1/verify")
    assert response.status_code == 200
    assert response.headers["remote-user"] == "alice"
    assert "remote-email" not in response.headers  # not verified yet
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"username": "alice"}


async def test_verified_email_is_sent_as_remote_email(client: httpx.AsyncClient) -> None:
    await sign_up_and_in(client, "bob", "Bob@Example.com")
    store = services(client).users
    user = await store.by_canon("bob")
    assert user is not None
    assert user.email is not None
    assert await store.set_email_verified(user.id, user.email, time.time())
    response = await client.get("/api/v1/verify")
    assert response.status_code == 200
    assert response.headers["remote-email"] == user.email


async def test_bearer_token_and_head(client: httpx.AsyncClient) -> None:
    token = await sign_up_and_in(client, "carol")
    client.cookies.clear()
    assert (await client.get("/api/v1/verify")).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    response = await client.get("/api/v1/verify", headers=bearer)
    assert response.status_code == 200
    assert response.headers["remote-user"] == "carol"
    head = await client.head("/api/v1/verify", headers=bearer)
    assert head.status_code == 200
    assert head.headers["remote-user"] == "carol"
    assert (await client.head("/api/v1/verify")).status_code == 401


async def test_non_ascii_username_is_sent_as_utf8_bytes(client: httpx.AsyncClient) -> None:
    await sign_up_and_in(client, "Дмитрий")
    response = await client.get("/api/v1/verify")
    assert response.status_code == 200
    raw = dict(response.headers.raw)
    assert raw[b"remote-user"] == "Дмитрий".encode()


async def test_ended_session_is_401(client: httpx.AsyncClient) -> None:
    token = await sign_up_and_in(client, "dave")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.delete("/api/v1/session", headers=bearer)).status_code == 204
    assert (await client.get("/api/v1/verify", headers=bearer)).status_code == 401


async def test_rd_to_allowed_host_redirects_to_signed_sign_in(
    proxied: httpx.AsyncClient,
) -> None:
    response = await proxied.get("/api/v1/verify", params={"rd": ORIGINAL})
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    assert_signed_link(proxied, response.headers["location"], ORIGINAL)


@pytest.mark.parametrize(
    "rd",
    [
        "https://evil.com/",
        "//evil.com/",
        "https://app.example.com@evil.com/",
        "javascript:alert(1)",
        "https://app.example.com/%2F%2Fevil.com",
        "/welcome\r\nSet-Cookie: x=1",
    ],
)
async def test_rd_to_refused_target_is_401(proxied: httpx.AsyncClient, rd: str) -> None:
    response = await proxied.get("/api/v1/verify", params={"rd": rd})
    assert response.status_code == 401
    assert "location" not in response.headers


async def test_signed_in_with_rd_is_200_not_redirect(proxied: httpx.AsyncClient) -> None:
    await sign_up_and_in(proxied, "erin")
    response = await proxied.get("/api/v1/verify", params={"rd": ORIGINAL})
    assert response.status_code == 200
    assert response.headers["remote-user"] == "erin"


def forwarded(host: str = "app.example.com", uri: str = "/private?x=1&y=%2F") -> dict[str, str]:
    return {"X-Forwarded-Proto": "https", "X-Forwarded-Host": host, "X-Forwarded-Uri": uri}


async def test_trusted_proxy_headers_redirect_to_signed_sign_in(
    proxied: httpx.AsyncClient,
) -> None:
    response = await proxied.get("/api/v1/verify", headers=forwarded())
    assert response.status_code == 302
    assert_signed_link(proxied, response.headers["location"], ORIGINAL)
    sub = await proxied.get("/api/v1/verify", headers=forwarded("x.apps.example.org", "/"))
    assert sub.status_code == 302
    assert_signed_link(proxied, sub.headers["location"], "https://x.apps.example.org/")


@pytest.mark.parametrize(
    "headers",
    [
        forwarded(host="evil.com"),
        forwarded(host="apps.example.org"),
        forwarded(host="app.example.com@evil.com"),
        forwarded(host="evil.com/x?"),
        forwarded(uri="//evil.com/"),
        forwarded(uri="https://evil.com/"),
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"},
        {
            "X-Forwarded-Proto": "gopher",
            "X-Forwarded-Host": "app.example.com",
            "X-Forwarded-Uri": "/",
        },
    ],
)
async def test_trusted_proxy_with_bad_or_partial_original_is_401(
    proxied: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await proxied.get("/api/v1/verify", headers=headers)
    assert response.status_code == 401
    assert "location" not in response.headers


async def test_untrusted_peer_forwarded_headers_are_ignored(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", public_url=PUBLIC, allowed_redirect_hosts=ALLOWED)
    async with running_app(settings) as http:
        response = await http.get("/api/v1/verify", headers=forwarded())
        assert response.status_code == 401


async def test_csp_form_action_admits_allowed_hosts(proxied: httpx.AsyncClient) -> None:
    csp = (await proxied.get("/sign-in")).headers["content-security-policy"]
    form_action = next(part for part in csp.split("; ") if part.startswith("form-action"))
    assert form_action.split()[1:] == [
        "'self'",
        "https://app.example.com:*",
        "http://app.example.com:*",
        "https://*.apps.example.org:*",
        "http://*.apps.example.org:*",
    ]


# -- SIGNIN_COOKIE_DOMAIN ----------------------------------------------------------------


async def test_cookie_domain_shares_a_secure_session_across_subdomains(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        public_url=PUBLIC,
        cookie_domain="example.com",
        allowed_redirect_hosts="*.example.com",
    )
    async with running_app(settings, base_url=PUBLIC) as http:
        created = await http.post("/api/v1/users", json={"username": "fay", "password": PASSWORD})
        assert created.status_code == 201
        signed_in = await form_post(http, "/sign-in", {"username": "fay", "password": PASSWORD})
        assert signed_in.status_code == 303
        cookie = next(
            value
            for value in signed_in.headers.get_list("set-cookie")
            if value.startswith("__Secure-session=")
        )
        attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "domain=example.com" in attributes
        assert {"secure", "httponly", "path=/", "samesite=lax"} <= set(attributes)
        assert not any(
            v.startswith("__Host-session") for v in signed_in.headers.get_list("set-cookie")
        )
        # The browser sends a Domain cookie to every subdomain: the app's proxy asks verify.
        elsewhere = await http.get("https://app.example.com/api/v1/verify")
        assert elsewhere.status_code == 200
        assert elsewhere.headers["remote-user"] == "fay"
        # Sign-out must delete the cookie with the same Domain, or the browser keeps it.
        signed_out = await form_post(http, "/sign-out", {})
        assert signed_out.status_code == 303
        deletion = next(
            value
            for value in signed_out.headers.get_list("set-cookie")
            if value.startswith("__Secure-session=")
        )
        assert "domain=example.com" in deletion.lower()
        assert (await http.get("https://app.example.com/api/v1/verify")).status_code == 401


async def test_without_cookie_domain_the_session_is_host_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", public_url=PUBLIC)
    async with running_app(settings, base_url=PUBLIC) as http:
        await http.post("/api/v1/users", json={"username": "gus", "password": PASSWORD})
        signed_in = await form_post(http, "/sign-in", {"username": "gus", "password": PASSWORD})
        assert signed_in.status_code == 303
        cookie = next(
            value
            for value in signed_in.headers.get_list("set-cookie")
            if value.startswith("__Host-session=")
        )
        assert "domain=" not in cookie.lower()
        assert (await http.get("/api/v1/verify")).status_code == 200
        # A host-only cookie never reaches a sibling subdomain.
        assert (await http.get("https://app.example.com/api/v1/verify")).status_code == 401
