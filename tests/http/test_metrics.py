"""`GET /metrics` (SPEC section 15): the gate, and counts that follow real requests."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.http.mailflows import PASSWORD, sign_in, sign_up
from tests.metrics_text import sample
from tests.support import make_settings, running_app

TOKEN = "scrape-token-0123456789abcdef"


def loopback(client: httpx.AsyncClient, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=client.app, client=(ip, 40000))  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_gate_answers_404_to_everyone_else(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", metrics_token=TOKEN)
    async with running_app(settings) as client:  # client address 203.0.113.7
        refused = await client.get("/metrics")
        assert refused.status_code == 404
        assert "signin_" not in refused.text
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 30})
        assert wrong.status_code == 404
        with_token = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert with_token.status_code == 200
        assert with_token.headers["content-type"].startswith("text/plain")
        async with loopback(client) as local:
            assert (await local.get("/metrics")).status_code == 200
        async with loopback(client, "::1") as local6:
            assert (await local6.get("/metrics")).status_code == 200
        assert (await client.post("/metrics")).status_code in (404, 405)


async def test_allow_list_replaces_loopback(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", metrics_allow=["203.0.113.0/24"])
    async with running_app(settings) as client:
        assert (await client.get("/metrics")).status_code == 200
        async with loopback(client) as local:
            assert (await local.get("/metrics")).status_code == 404


async def test_counts_follow_sign_ins_sign_ups_and_checks(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", lock_max_failures=2, metrics_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with running_app(settings) as client:
        before = (await client.get("/metrics", headers=auth)).text
        assert sample(before, "signin_sign_ins_total", outcome="success") == 0
        assert sample(before, "signin_sign_ins_total", outcome="two_factor") == 0
        await sign_up(client, "Alice")
        assert (await sign_in(client, "alice")).status_code == 303
        assert (await sign_in(client, "alice", "not the password")).status_code == 401
        for _ in range(2):
            await sign_in(client, "nobody", "not the password")
        assert (await sign_in(client, "nobody", "not the password")).status_code == 429
        api = await client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
        assert api.status_code == 201
        for _ in range(2):
            assert (await client.get("/api/v1/verify")).status_code == 200
        anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
        async with anonymous:
            assert (await anonymous.get("/api/v1/verify")).status_code == 401
            assert (await anonymous.get("/api/v1/verify?rd=/x")).status_code == 302
        text = (await client.get("/metrics", headers=auth)).text

    assert sample(text, "signin_sign_ins_total", outcome="success") == 2
    assert sample(text, "signin_sign_ins_total", outcome="failure") == 3
    assert sample(text, "signin_sign_ins_total", outcome="locked") == 1
    assert sample(text, "signin_sign_ups_total") == 1
    assert sample(text, "signin_verify_total", decision="redirect") == 1
    assert sample(text, "signin_verify_total", decision="deny") == 1
    assert sample(text, "signin_verify_total", decision="allow") == 2
    assert (sample(text, "signin_hash_seconds_count") or 0) >= 5
    assert sample(text, "signin_hash_queue") == 0
    assert sample(text, "signin_locks", kind="username") == 1
    assert sample(text, "signin_locks", kind="ip") == 0
    # Per route template, method and status class; 404s of unknown paths share one label.
    assert sample(text, "signin_request_seconds_count", route="/sign-in", status="3xx") == 1
    assert sample(text, "signin_request_seconds_count", route="/sign-in", status="4xx") == 4
    # No client text as a label value.
    for secret in ("alice", "nobody", "203.0.113.7"):
        assert secret not in text


async def test_unknown_paths_do_not_make_new_labels(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    async with running_app(settings) as client:
        for i in range(5):
            assert (await client.get(f"/no-such-page-{i}")).status_code == 404
        assert (await client.get("/reset-password?token=abc")).status_code in (200, 303, 400)
        async with loopback(client) as local:
            text = (await local.get("/metrics")).text
    assert "no-such-page" not in text
    assert "token=abc" not in text
    assert sample(text, "signin_request_seconds_count", route="unmatched", status="4xx") == 5
