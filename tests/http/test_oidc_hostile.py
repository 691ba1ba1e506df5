"""Hostile input at every OpenID Connect endpoint: an OAuth error or a page, never a 5xx, and
never a token."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from signin.accounts.clock import FrozenClock
from tests.http.oidcflows import CALLBACK, ISSUER, auth_params, oidc_app, sign_in_at, sign_up

JUNK_AUTH = [
    "Basic",
    "Basic !!!",
    "Basic " + "QQ==" * 1000,
    "Basic w4k=",
    "Bearer \x00",
    "Digest x",
]
BODIES: list[tuple[str, bytes]] = [
    ("application/x-www-form-urlencoded", b"grant_type=authorization_code&code=%ff%fe"),
    (
        "application/x-www-form-urlencoded",
        b"grant_type=refresh_token&refresh_token=" + b"a" * 60000,
    ),
    ("application/x-www-form-urlencoded", b"\xff\xfe\x00=="),
    ("application/x-www-form-urlencoded", b"client_id=first&client_id=app&grant_type=x"),
    (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n',
    ),
    ("application/json", b'{"grant_type": "authorization_code"}'),
    ("text/plain", b"\x00\x01"),
]


@pytest.mark.parametrize("path", ["/oidc/token", "/oidc/revoke", "/oidc/introspect"])
async def test_program_endpoints_answer_oauth_errors(tmp_path: Path, path: str) -> None:
    async with oidc_app(tmp_path) as (client, _):
        for header in JUNK_AUTH:
            for kind, body in BODIES:
                response = await client.post(
                    path, content=body, headers={"Content-Type": kind, "Authorization": header}
                )
                assert response.status_code in (400, 401, 413), (header, body[:40])
                if response.status_code != 413:
                    assert response.json()["error"] in ("invalid_request", "invalid_client")
                assert "access_token" not in response.text


async def test_userinfo_and_pages_never_fail(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        for header in [*JUNK_AUTH, "Bearer " + "x" * 5000, "Bearer a b"]:
            got = await client.get("/oidc/userinfo", headers={"Authorization": header})
            assert got.status_code in (400, 401)
        posted = await client.post(
            "/oidc/userinfo",
            content=b"access_token=%00",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert posted.status_code == 401
        weird = [
            {"nonce": "n" * 3000},
            {"state": "s" * 3000},
            {"max_age": "9" * 40},
            {"prompt": "\u202e"},
            {"scope": "openid " * 500},
            {"code_challenge": "\x00" * 43, "code_challenge_method": "S256"},
            {"response_mode": "fragment"},
            {"redirect_uri": CALLBACK + "\r\nX: y"},
        ]
        for extra in weird:
            response = await client.get("/oidc/authorize", params=auth_params("first", **extra))
            assert response.status_code in (200, 303, 400), extra
            if response.status_code == 303:
                assert response.headers["location"].startswith(
                    (CALLBACK, "https://id.example.test/")
                )
        for params in (
            {"id_token_hint": "a.b.c"},
            {"post_logout_redirect_uri": "https://evil/"},
            {"client_id": "\x00"},
        ):
            response = await client.get("/oidc/logout", params=params)
            assert response.status_code in (200, 400)
            assert "location" not in response.headers
        consent = await client.post("/oidc/consent", data={"request": "x"})
        assert consent.status_code == 403  # no CSRF token


async def test_cors_only_for_public_clients_origins(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        spa = "https://app.example.test"  # the public client "spa" returns there
        pre = await client.options(
            "/oidc/token",
            headers={"Origin": spa, "Access-Control-Request-Method": "POST"},
        )
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == spa
        token = await client.post("/oidc/token", data={"client_id": "spa"}, headers={"Origin": spa})
        assert token.headers["access-control-allow-origin"] == spa
        evil = await client.post(
            "/oidc/token", data={"client_id": "spa"}, headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in evil.headers
        jwks = await client.get("/oidc/jwks", headers={"Origin": "https://evil.example"})
        assert jwks.headers["access-control-allow-origin"] == "*"


def resumed_of(sign_in_link: str) -> str:
    """The authorization request a sign-in link leads back to."""
    assert sign_in_link.startswith(f"{ISSUER}/sign-in?next="), sign_in_link
    return parse_qs(urlsplit(sign_in_link).query)["next"][0]


def marker_of(sign_in_link: str) -> str:
    return parse_qs(urlsplit(resumed_of(sign_in_link)).query)["auth_after"][0]


def sent_to_sign_in(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith(
        f"{ISSUER}/sign-in?"
    )


async def test_a_marker_the_server_did_not_make_for_this_request_does_not_skip_sign_in(
    tmp_path: Path,
) -> None:
    clock = FrozenClock()
    async with oidc_app(tmp_path, clock=clock) as (client, _):
        await sign_up(client)
        clock.advance(30)
        for forged in ("1", str(int(clock()) - 5), "x" * 40, "eyJ0IjoxfQ.abc.def"):
            for demand in ({"prompt": "login"}, {"max_age": "10"}):
                params = auth_params("first", auth_after=forged, **demand)
                assert sent_to_sign_in(await client.get("/oidc/authorize", params=params)), (
                    forged,
                    demand,
                )
        # A real marker, made for another request (state st-A), then a sign-in after it:
        made = await client.get("/oidc/authorize", params=auth_params("first", prompt="login"))
        marker = marker_of(made.headers["location"])
        assert (await sign_in_at(client, made.headers["location"])).status_code == 303
        clock.advance(30)
        other = auth_params("first", prompt="login", state="st-B", auth_after=marker)
        assert sent_to_sign_in(await client.get("/oidc/authorize", params=other))
        tampered = auth_params("first", prompt="login", auth_after=marker[:-2] + "AA")
        assert sent_to_sign_in(await client.get("/oidc/authorize", params=tampered))


async def test_an_old_marker_is_ignored(tmp_path: Path) -> None:
    clock = FrozenClock()
    async with oidc_app(tmp_path, clock=clock) as (client, _):
        await sign_up(client)
        clock.advance(30)
        made = await client.get("/oidc/authorize", params=auth_params("first", prompt="login"))
        signed_in = await sign_in_at(client, made.headers["location"])
        resumed = signed_in.headers["location"]
        assert resumed == resumed_of(made.headers["location"])
        clock.advance(301)
        assert sent_to_sign_in(await client.get(resumed))


async def test_userinfo_tells_a_missing_token_from_a_bad_one(tmp_path: Path) -> None:
    """RFC 6750 3.1: no credentials (or another scheme) is a bare challenge; a presented token
    that fails is `invalid_token`."""
    async with oidc_app(tmp_path) as (client, _):
        bare = [
            await client.get("/oidc/userinfo"),
            await client.get("/oidc/userinfo", headers={"Authorization": "Basic YTpi"}),
            await client.post("/oidc/userinfo"),
        ]
        for response in bare:
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer realm="signin"'
            assert response.headers["cache-control"] == "no-store"
        bad = [
            await client.get("/oidc/userinfo", headers={"Authorization": "Bearer nope"}),
            await client.post(
                "/oidc/userinfo",
                content=b"access_token=nope",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
        ]
        for response in bad:
            assert response.status_code == 401
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
            assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    ("method", "path", "allow", "as_json"),
    [
        ("GET", "/oidc/token", "OPTIONS, POST", True),
        ("PUT", "/oidc/token", "OPTIONS, POST", True),
        ("GET", "/oidc/revoke", "OPTIONS, POST", True),
        ("GET", "/oidc/introspect", "POST", True),
        ("PUT", "/oidc/userinfo", "GET, OPTIONS, POST", True),
        ("DELETE", "/oidc/userinfo", "GET, OPTIONS, POST", True),
        ("PUT", "/oidc/authorize", "GET, POST", False),
        ("PUT", "/oidc/logout", "GET, POST", False),
        ("GET", "/oidc/consent", "POST", False),
        ("POST", "/.well-known/openid-configuration", "GET, HEAD", False),
        ("PUT", "/oidc/jwks", "GET, HEAD", False),
    ],
)
async def test_a_wrong_method_names_the_methods_the_endpoint_takes(
    tmp_path: Path, method: str, path: str, allow: str, as_json: bool
) -> None:
    """RFC 9110 15.5.6: `Allow` lists the resource's methods (the CORS preflight's OPTIONS
    included); the endpoints for programs answer in JSON like their other errors."""
    async with oidc_app(tmp_path) as (client, _):
        response = await client.request(method, path)
        assert response.status_code == 405
        assert response.headers["allow"] == allow
        if as_json:
            assert response.headers["content-type"] == "application/json"
            assert response.json()["error"] == "invalid_request"
        else:
            assert response.headers["content-type"].startswith("text/html")


async def test_head_answers_where_get_does_for_discovery_and_keys(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        for path in ("/.well-known/openid-configuration", "/oidc/jwks"):
            got = await client.get(path)
            head = await client.head(path)
            assert head.status_code == 200
            assert head.headers["content-type"] == got.headers["content-type"]
            assert head.headers["cache-control"] == got.headers["cache-control"]
        spa = "https://app.example.test"
        pre = await client.options(
            "/oidc/userinfo", headers={"Origin": spa, "Access-Control-Request-Method": "GET"}
        )
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == spa
