"""SPEC 5a's race on two `signin serve` processes sharing PostgreSQL and Redis: 20 attempts with
a device proof and 20 without, all at once, all wrong, split over both processes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from signin.accounts.usernames import canon
from tests.integration.test_two_instances import (
    PASSWORD,
    Pair,
    assert_lock_state,
    fresh_name,
    pair,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
__all__ = ["pair"]  # the module-scoped fixture: two processes for this module


async def device_token(client: httpx.AsyncClient, url: str, name: str) -> str:
    client.cookies.clear()
    created = await client.post(
        url + "/api/v1/session", json={"username": name, "password": PASSWORD}
    )
    assert created.status_code == 201
    client.cookies.clear()
    token: str = created.json()["device_token"]
    return token


async def test_twenty_trusted_and_twenty_untrusted_attempts_at_once(pair: Pair) -> None:
    name = fresh_name("ria")
    async with httpx.AsyncClient(timeout=60) as client:
        created = await client.post(
            pair.a.url + "/api/v1/users", json={"username": name, "password": PASSWORD}
        )
        assert created.status_code == 201
        proof = await device_token(client, pair.a.url, name)
        spare = await device_token(client, pair.b.url, name)  # the owner's other browser

        def attempt(i: int, token: str | None) -> object:
            body = {"username": name, "password": f"wrong password {i}"}
            if token is not None:
                body["device_token"] = token
            url = pair.a.url if i % 2 else pair.b.url
            return client.post(url + "/api/v1/session", json=body)

        answers = await asyncio.gather(
            *(attempt(i, proof) for i in range(20)), *(attempt(i, None) for i in range(20))
        )
        statuses = [answer.status_code for answer in answers]  # type: ignore[attr-defined]
        trusted, untrusted = statuses[:20], statuses[20:]
        # Exactly three checks on the proof's count and three on the username's (the locked
        # proof's later attempts are untrusted and share those three): six in all.
        assert sorted(statuses) == [401] * 6 + [429] * 34
        assert trusted.count(401) >= 3
        assert untrusted.count(401) <= 3
        # The proof and the username are locked, on both processes: the right password with
        # that proof or without one is refused; the owner's other browser still gets in.
        for url in (pair.a.url, pair.b.url):
            for token in (proof, None):
                body = {"username": name, "password": PASSWORD}
                if token is not None:
                    body["device_token"] = token
                client.cookies.clear()
                refused = await client.post(url + "/api/v1/session", json=body)
                assert refused.status_code == 429
        client.cookies.clear()
        owner = await client.post(
            pair.b.url + "/api/v1/session",
            json={"username": name, "password": PASSWORD, "device_token": spare},
        )
        assert owner.status_code == 201
    # On the username: 20 untrusted, 17 from the locked proof, 4 refused right passwords.
    await assert_lock_state(pair, canon(name), failures=20 + 17 + 4)
