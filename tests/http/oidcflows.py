"""Helpers for the OpenID Connect tests: a clients file, an app, a signed-in browser, PKCE."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from signin.accounts.clock import Clock, system_clock
from signin.accounts.oidc.clients import hash_secret
from signin.services import Services, build_services
from tests.support import csrf_of, form_post, make_settings, running_app

PASSWORD = "correct horse battery"
SECRET = "s3cret-" + "x" * 40
ISSUER = "https://id.example.test"
CALLBACK = "https://app.example.test/callback"
LOGOUT_RETURN = "https://app.example.test/bye"

CLIENTS = f"""
[[client]]
id = "app"
name = "The App"
redirect_uris = ["{CALLBACK}", "https://app.example.test/cb?x=1"]
post_logout_redirect_uris = ["{LOGOUT_RETURN}"]
secret_hash = "{hash_secret(SECRET)}"

[[client]]
id = "post"
name = "Post App"
redirect_uris = ["{CALLBACK}"]
secret_hash = "{hash_secret(SECRET)}"
token_endpoint_auth_method = "client_secret_post"
offline_access = true
id_token_signed_response_alg = "ES256"

[[client]]
id = "spa"
name = "Single Page"
redirect_uris = ["{CALLBACK}"]

[[client]]
id = "first"
name = "First Party"
redirect_uris = ["{CALLBACK}"]
secret_hash = "{hash_secret(SECRET)}"
consent = "skip"

[[client]]
id = "staff"
name = "Staff Only"
redirect_uris = ["{CALLBACK}"]
secret_hash = "{hash_secret(SECRET)}"
groups = ["staff"]
consent = "skip"

[[client]]
id = "secure"
name = "Needs Two Factors"
redirect_uris = ["{CALLBACK}"]
secret_hash = "{hash_secret(SECRET)}"
require_two_factor = true
consent = "skip"
"""


def s256(verifier: str) -> str:
    """The S256 code_challenge of a verifier (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def write_clients(tmp_path: Path, text: str = CLIENTS) -> Path:
    path = tmp_path / "clients.toml"
    path.write_text(text, encoding="utf-8")
    return path


@asynccontextmanager
async def oidc_app(
    tmp_path: Path, clock: Clock = system_clock, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    values: dict[str, Any] = {
        "public_url": ISSUER,
        "oidc_clients": write_clients(tmp_path),
        "cookie_secure": "false",
        "ip_lock_max_failures": 1000,
    }
    values.update(overrides)
    settings = make_settings(tmp_path / "data", **values)
    services = build_services(settings, clock=clock)
    async with running_app(settings, services=services, base_url=ISSUER) as client:
        yield client, services


async def sign_up(client: httpx.AsyncClient, username: str = "alice") -> None:
    response = await form_post(client, "/sign-up", {"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.text


async def sign_in_at(
    client: httpx.AsyncClient, sign_in_url: str, username: str = "alice"
) -> httpx.Response:
    """Sign in on the real `/sign-in` page authorize sent the browser to, its signed next kept."""
    query = parse_qs(urlsplit(sign_in_url).query)
    page = await client.get(sign_in_url)
    data = {"csrf_token": csrf_of(page.text), "username": username, "password": PASSWORD}
    return await client.post(
        "/sign-in", data={**data, "next": query["next"][0], "sig": query["sig"][0]}
    )


def auth_params(client_id: str = "app", **extra: str) -> dict[str, str]:
    params = {
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid profile email groups",
        "state": "st-1",
        "nonce": "n-1",
    }
    params.update(extra)
    if "code_challenge" in extra and "code_challenge_method" not in extra:
        params["code_challenge_method"] = "S256"
    return {key: value for key, value in params.items() if value != ""}


def answer_of(response: httpx.Response) -> dict[str, str]:
    """The parameters of a redirect to the client's callback."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def request_blob(page: str) -> str:
    return page.split('name="request" value="')[1].split('"')[0]


async def consent_answer(client: httpx.AsyncClient, page: str, answer: str) -> httpx.Response:
    data = {"csrf_token": csrf_of(page), "request": request_blob(page), "answer": answer}
    return await client.post("/oidc/consent", data=data)


async def code_for(client: httpx.AsyncClient, client_id: str = "first", **extra: str) -> str:
    """A code from a signed-in browser (clients with consent skipped)."""
    answer = answer_of(await client.get("/oidc/authorize", params=auth_params(client_id, **extra)))
    assert "code" in answer, answer
    return answer["code"]


async def exchange(
    client: httpx.AsyncClient, code: str, client_id: str = "first", **extra: str
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **extra}
    return await client.post("/oidc/token", data=data, auth=(client_id, SECRET))


async def sign_out(client: httpx.AsyncClient) -> None:
    """Sign the browser out, through the real sign-out form."""
    page = await client.get("/sign-out")
    await client.post("/sign-out", data={"csrf_token": csrf_of(page.text)})


async def authorize_counting_sign_ins(
    client: httpx.AsyncClient, params: dict[str, str], username: str = "alice", most: int = 3
) -> tuple[int, httpx.Response]:
    """Follow /oidc/authorize as a browser would, signing in on the real page each time it is
    sent there (at most `most` times); the sign-ins made and the last answer."""
    response = await client.get("/oidc/authorize", params=params)
    sign_ins = 0
    while response.status_code == 303 and "/sign-in?" in response.headers["location"]:
        if sign_ins == most:
            break
        sign_ins += 1
        signed_in = await sign_in_at(client, response.headers["location"], username)
        assert signed_in.status_code == 303, signed_in.text
        response = await client.get(signed_in.headers["location"])
    return sign_ins, response


async def id_token_of(client: httpx.AsyncClient, username: str) -> str:
    """An ID token for `username` (signed up now, and left signed in) from client "first"."""
    await sign_up(client, username)
    body = (await exchange(client, await code_for(client, "first"))).json()
    return str(body["id_token"])
