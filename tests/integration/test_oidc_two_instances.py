"""The OpenID Connect provider on two `signin serve` processes sharing PostgreSQL and Redis: one
JWKS, a code made on A redeemed on B, a refresh rotated on B whose reuse on A revokes the family,
and a code raced on both at once redeemed exactly once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends import flush_redis, fresh_database, need_postgres, need_redis
from tests.integration.oidc_rp import (
    CALLBACK,
    PASSWORD,
    SECRET,
    browser_sign_in,
    clients_toml,
    query_of,
)
from tests.integration.test_two_instances import Pair, page_post, two_servers

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def oidc_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    pg_server, redis_url = need_postgres(), need_redis()
    flush_redis(redis_url)
    tmp = tmp_path_factory.mktemp("oidc-two")
    clients = tmp / "clients.toml"
    clients.write_text(clients_toml(), encoding="utf-8")
    with fresh_database(pg_server) as database_url:
        shared = {
            "SIGNIN_DATABASE_URL": database_url,
            "SIGNIN_REDIS_URL": redis_url,
            "SIGNIN_SECRET_KEY": secrets.token_urlsafe(32),
            "SIGNIN_COOKIE_SECURE": "false",
            "SIGNIN_OIDC_CLIENTS": str(clients),
            # One key file on shared storage: both publish the same JWKS (README).
            "SIGNIN_OIDC_KEYS_FILE": str(tmp / "shared" / "oidc-keys.json"),
            "SIGNIN_PUBLIC_URL": "http://127.0.0.1:8000",
        }
        with two_servers(tmp, shared, shared) as pair:
            yield pair
        flush_redis(redis_url)


def authorize_url(base: str, **extra: str) -> str:
    params = {
        "client_id": "rp",
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid profile offline_access",
        "state": "s",
        "nonce": "n",
        **extra,
    }
    return base + "/oidc/authorize?" + str(httpx.QueryParams(params))


async def token(base: str, data: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as rp:
        return await rp.post(base + "/oidc/token", data=data, auth=("rp", SECRET))


def code_request(code: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}


async def sign_up(browser: httpx.AsyncClient, pair: Pair, name: str) -> None:
    """An account made on A (then signed out): the flow signs in on the real page."""
    signed_up = await page_post(
        browser, pair.a.url, "/sign-up", {"username": name, "password": PASSWORD}
    )
    assert signed_up.status_code == 303
    await page_post(browser, pair.a.url, "/sign-out", {})


async def test_same_jwks_code_on_a_redeemed_on_b_refresh_reuse_across(
    oidc_pair: Pair, tmp_path: Path
) -> None:
    pair = oidc_pair
    async with httpx.AsyncClient() as anyone:
        jwks_a = (await anyone.get(pair.a.url + "/oidc/jwks")).json()
        jwks_b = (await anyone.get(pair.b.url + "/oidc/jwks")).json()
    assert jwks_a == jwks_b
    async with httpx.AsyncClient() as browser:
        await sign_up(browser, pair, "dora")
        callback = await browser_sign_in(browser, authorize_url(pair.a.url), "dora")
    code = query_of(callback)["code"]
    on_b = await token(pair.b.url, code_request(code))
    assert on_b.status_code == 200, on_b.text
    first = on_b.json()
    replay_on_a = await token(pair.a.url, code_request(code))
    assert replay_on_a.json()["error"] == "invalid_grant"
    async with httpx.AsyncClient() as rp:
        dead = await rp.get(
            pair.a.url + "/oidc/userinfo",
            headers={"Authorization": f"Bearer {first['access_token']}"},
        )
    assert dead.status_code == 401  # the replay revoked what the first use gave, on both


async def test_refresh_rotated_on_b_reused_on_a_revokes_the_family(oidc_pair: Pair) -> None:
    pair = oidc_pair
    async with httpx.AsyncClient() as browser:
        await sign_up(browser, pair, "erin")
        callback = await browser_sign_in(browser, authorize_url(pair.b.url), "erin")
    tokens = (await token(pair.a.url, code_request(query_of(callback)["code"]))).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    rotated = await token(pair.b.url, refresh)
    assert rotated.status_code == 200, rotated.text
    newer = rotated.json()
    reused = await token(pair.a.url, refresh)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    after = await token(
        pair.b.url, {"grant_type": "refresh_token", "refresh_token": newer["refresh_token"]}
    )
    assert after.json()["error"] == "invalid_grant"
    async with httpx.AsyncClient() as rp:
        info = await rp.get(
            pair.b.url + "/oidc/userinfo",
            headers={"Authorization": f"Bearer {newer['access_token']}"},
        )
    assert info.status_code == 401


async def test_a_code_raced_on_both_instances_gives_tokens_once(oidc_pair: Pair) -> None:
    pair = oidc_pair
    async with httpx.AsyncClient() as browser:
        await sign_up(browser, pair, "fay")
        callback = await browser_sign_in(browser, authorize_url(pair.a.url), "fay")
    code = query_of(callback)["code"]
    answers = await asyncio.gather(
        *(token(base, code_request(code)) for base in (pair.a.url, pair.b.url) * 3)
    )
    issued = [answer for answer in answers if answer.status_code == 200]
    assert len(issued) <= 1
    assert all(a.json().get("error") == "invalid_grant" for a in answers if a.status_code != 200)
    assert all(a.status_code < 500 for a in answers)
