"""Forward-auth with access rules (SPEC section 12), through a trusted proxy's headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.http.test_forward_auth import (
    ALLOWED,
    PEER,
    PUBLIC,
    assert_signed_link,
    services,
    sign_up_and_in,
)
from tests.http.twofactorflows import PASSWORD, sign_up, signed_up_and_enrolled, two_factor_app
from tests.support import make_settings, running_app

RULES = """
[[rule]]
hosts = ["app.example.com"]
paths = ["^/public/"]
policy = "bypass"

[[rule]]
hosts = ["app.example.com"]
paths = ["^/admin(/|$)"]
policy = "signed_in"
groups = ["admins"]

[[rule]]
hosts = ["app.example.com"]
methods = ["DELETE"]
policy = "signed_in"
users = ["carol"]

[[rule]]
hosts = ["vault.example.com"]
policy = "two_factor"

[[rule]]
hosts = ["*.apps.example.org"]
policy = "deny"

[[rule]]
hosts = ["app.example.com"]
policy = "signed_in"
"""


@pytest.fixture
async def gated(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    settings = make_settings(
        tmp_path / "data",
        public_url=PUBLIC,
        trusted_proxies=PEER,
        allowed_redirect_hosts=ALLOWED + ",vault.example.com,unknown.example.net",
        access_rules=str(rules),
        access_default="deny",
    )
    async with running_app(settings) as http:
        yield http


def via(
    host: str, uri: str, method: str = "GET", *, original: bool = False, token: str = ""
) -> dict[str, str]:
    """The headers a proxy sends: Traefik/Caddy style, or nginx's check with X-Original-URI.

    The session travels as a Bearer token: the test client's cookie is scoped to plain http,
    and these checks say the original request was https.
    """
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": host}
    headers["X-Original-URI" if original else "X-Forwarded-Uri"] = uri
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return {**headers, "X-Forwarded-Method": method}


async def test_bypass_answers_200_without_identity(gated: httpx.AsyncClient) -> None:
    anonymous = await gated.get("/api/v1/verify", headers=via("app.example.com", "/public/x"))
    assert anonymous.status_code == 200
    assert "remote-user" not in anonymous.headers
    token = await sign_up_and_in(gated, "alice")
    public = via("app.example.com", "/public/x", token=token)
    signed = await gated.get("/api/v1/verify", headers=public)
    assert signed.status_code == 200
    assert "remote-user" not in signed.headers
    # Normalized before matching: a way out of /public/ is not bypassed.
    sneaky_path = via("app.example.com", "/public/../admin", token=token)
    sneaky = await gated.get("/api/v1/verify", headers=sneaky_path)
    assert sneaky.status_code == 403


async def test_signed_in_policy(gated: httpx.AsyncClient) -> None:
    anonymous = await gated.get("/api/v1/verify", headers=via("app.example.com", "/x?y=1"))
    assert anonymous.status_code == 302
    assert_signed_link(gated, anonymous.headers["location"], "https://app.example.com/x?y=1")
    nginx_check = await gated.get(
        "/api/v1/verify", headers=via("app.example.com", "/x", original=True)
    )
    assert nginx_check.status_code == 401  # X-Original-URI: rules only, never a 302
    token = await sign_up_and_in(gated, "alice")
    signed = await gated.get("/api/v1/verify", headers=via("app.example.com", "/x", token=token))
    assert signed.status_code == 200
    assert signed.headers["remote-user"] == "alice"
    assert "remote-groups" not in signed.headers


async def test_group_rule_and_groups_header_follow_changes(gated: httpx.AsyncClient) -> None:
    token = await sign_up_and_in(gated, "alice")
    admin = via("app.example.com", "/admin/users", original=True, token=token)
    refused = await gated.get("/api/v1/verify", headers=admin)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 403
    assert refused.headers["cache-control"] == "no-store"
    assert "remote-user" not in refused.headers

    await services(gated).groups.change("alice", add=["admins", "ops"])
    allowed = await gated.get("/api/v1/verify", headers=admin)  # the next check sees them
    assert allowed.status_code == 200
    assert allowed.headers["remote-user"] == "alice"
    assert allowed.headers["remote-groups"] == "admins,ops"

    await services(gated).groups.change("alice", remove=["admins"])
    again = await gated.get("/api/v1/verify", headers=admin)
    assert again.status_code == 403
    other = await gated.get("/api/v1/verify", headers=via("app.example.com", "/x", token=token))
    assert other.headers["remote-groups"] == "ops"


async def test_403_is_a_page_for_browsers(gated: httpx.AsyncClient) -> None:
    token = await sign_up_and_in(gated, "alice")
    headers = {**via("app.example.com", "/admin", token=token), "Accept": "text/html,*/*;q=0.8"}
    page = await gated.get("/api/v1/verify", headers=headers)
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>403" in page.text
    assert "may not open this address" in page.text


async def test_users_rule_and_methods(gated: httpx.AsyncClient) -> None:
    carol = await sign_up_and_in(gated, "Carol")
    delete = via("app.example.com", "/doc/1", "DELETE", token=carol)
    assert (await gated.get("/api/v1/verify", headers=delete)).status_code == 200
    dave = await sign_up_and_in(gated, "dave")
    delete = via("app.example.com", "/doc/1", "DELETE", token=dave)
    assert (await gated.get("/api/v1/verify", headers=delete)).status_code == 403
    get = via("app.example.com", "/doc/1", "GET", token=dave)
    assert (await gated.get("/api/v1/verify", headers=get)).status_code == 200


async def test_two_factor_rule_steps_a_password_session_up(tmp_path: Path) -> None:
    """`two_factor`: anonymous -> sign in; password-only -> the second step, with a signed way
    back (or 401 where the URL is unknown); a session that passed a second factor -> 200."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    overrides = {
        "public_url": PUBLIC,
        "trusted_proxies": PEER,
        "allowed_redirect_hosts": ALLOWED + ",vault.example.com",
        "access_rules": str(rules),
    }
    async with two_factor_app(tmp_path, **overrides) as app:
        vault = "https://vault.example.com/secrets"
        anonymous = await app.client.get(
            "/api/v1/verify", headers=via("vault.example.com", "/secrets")
        )
        assert anonymous.status_code == 302
        assert_signed_link(app.client, anonymous.headers["location"], vault)

        secret, _ = await signed_up_and_enrolled(app)
        # A password-only session, as the account had before its factor: the session that
        # enrolled it (enrolment does not make a session stronger).
        await sign_up(app, "bob")
        bob = await app.client.post(
            "/api/v1/session", json={"username": "bob", "password": PASSWORD}
        )
        assert bob.json()["username"] == "bob"
        token = bob.json()["token"]
        me = await app.client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["two_factor"] is False
        step_up = await app.client.get(
            "/api/v1/verify", headers=via("vault.example.com", "/secrets", token=token)
        )
        assert step_up.status_code == 302
        location = urlsplit(step_up.headers["location"])
        assert (
            f"{location.scheme}://{location.netloc}{location.path}"
            == f"{PUBLIC}/sign-in/two-factor"
        )
        query = parse_qs(location.query)
        assert query["next"] == [vault]
        assert services(app.client).redirects.verified(vault, query["sig"][0], "/x") == vault
        # nginx's check (the path in X-Original-URI, no URL to lead back to): 401.
        check = via("vault.example.com", "/secrets", original=True, token=token)
        unknown = await app.client.get("/api/v1/verify", headers=check)
        assert unknown.status_code == 401
        assert unknown.json()["type"].endswith("/step_up")

        # Through the second step: a session with the second factor passes.
        first = await app.client.post(
            "/api/v1/session", json={"username": "alice", "password": PASSWORD}
        )
        assert first.status_code == 202
        app.next_step()
        done = await app.client.post(
            "/api/v1/session/two-factor",
            json={"challenge": first.json()["challenge"], "code": app.code(secret)},
        )
        assert done.status_code == 201
        strong = via("vault.example.com", "/secrets", token=done.json()["token"])
        allowed = await app.client.get("/api/v1/verify", headers=strong)
        assert allowed.status_code == 200
        assert allowed.headers["remote-user"] == "alice"


async def test_deny_rule_and_deny_default(gated: httpx.AsyncClient) -> None:
    token = ""
    for who in ("anonymous", "alice"):
        if who == "alice":
            token = await sign_up_and_in(gated, "alice")
        denied = await gated.get(
            "/api/v1/verify", headers=via("x.apps.example.org", "/", token=token)
        )
        assert denied.status_code == 403, who
        unknown = via("unknown.example.net", "/", token=token)
        default = await gated.get("/api/v1/verify", headers=unknown)
        assert default.status_code == 403, who  # no rule: SIGNIN_ACCESS_DEFAULT=deny


async def test_rd_gives_the_target_too(gated: httpx.AsyncClient) -> None:
    bypass = await gated.get("/api/v1/verify", params={"rd": "https://app.example.com/public/a"})
    assert bypass.status_code == 200
    denied = await gated.get("/api/v1/verify", params={"rd": "https://x.apps.example.org/"})
    assert denied.status_code == 403
    head = await gated.head("/api/v1/verify", headers=via("x.apps.example.org", "/"))
    assert head.status_code == 403


async def test_account_page_lists_groups(gated: httpx.AsyncClient) -> None:
    await sign_up_and_in(gated, "alice")
    assert "You are in no groups." in (await gated.get("/account")).text
    await services(gated).groups.change("alice", add=["ops"])
    assert "<li>ops</li>" in (await gated.get("/account")).text
