"""A real relying party, npm `openid-client` (OpenID-certified), against a real `signin serve`.

Issue 24's proof: no mock on either side. `signin serve` runs on a SQLite file with a clients
file; `tests/integration/oidc_rp/rp.mjs` (Node) discovers it, sends a cookie-jar browser through
the real /sign-in form (plaintext password, as a browser without JavaScript sends it) and the
consent page, exchanges the code with PKCE S256, and lets openid-client check the ID token
(signature against the JWKS, nonce, iss, aud). Then UserInfo, refresh with rotation and reuse
detection, introspection, revocation, a silent authorization (prompt=none), prompt=login and
RP-initiated logout. The script only reports; every assertion is here.

openid-client comes from the npm registry, never from this repository: `.ci/run` runs
`npm ci --prefix tests/integration/oidc_rp` (versions pinned by its package-lock.json). Without
it, or without node, this module skips with that reason (fails under SIGNIN_REQUIRE_ALL=1).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.oidcrp import (
    ADMINS_ONLY,
    ALL_SCOPES,
    BASIC,
    FULL_FLOW,
    POST,
    PUBLIC,
    SECURE,
    Provider,
    RpClient,
    provider,
    run_rp,
)

pytestmark = pytest.mark.slow
__all__ = ["provider"]  # the module-scoped fixture: one server for the module


def path_of(url: str) -> str:
    return urlsplit(url).path


def assert_discovery(report: dict[str, Any], issuer: str) -> None:
    meta = report["discovery"]
    assert meta["issuer"] == issuer
    endpoints = {
        "authorization_endpoint": "/oidc/authorize",
        "token_endpoint": "/oidc/token",
        "userinfo_endpoint": "/oidc/userinfo",
        "jwks_uri": "/oidc/jwks",
        "revocation_endpoint": "/oidc/revoke",
        "introspection_endpoint": "/oidc/introspect",
        "end_session_endpoint": "/oidc/logout",
    }
    assert {key: meta.get(key) for key in endpoints} == {
        key: issuer + path for key, path in endpoints.items()
    }
    assert set(ALL_SCOPES.split()) <= set(meta["scopes_supported"])
    claims = {"sub", "preferred_username", "name", "email", "email_verified", "groups"}
    assert claims <= set(meta["claims_supported"])
    assert "code" in meta["response_types_supported"]
    assert {"query", "form_post"} <= set(meta["response_modes_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    methods = {"client_secret_basic", "client_secret_post", "none"}
    assert methods <= set(meta["token_endpoint_auth_methods_supported"])
    assert {"RS256", "ES256"} <= set(meta["id_token_signing_alg_values_supported"])
    assert meta["authorization_response_iss_parameter_supported"] is True  # RFC 9207
    assert meta["subject_types_supported"] == ["public"]


def assert_person(claims: dict[str, Any], username: str, email: str, verified: bool) -> None:
    """The claims of the scopes profile, email and groups for this person."""
    assert claims["sub"]
    assert claims["sub"] != username
    assert username not in claims["sub"]
    assert claims["preferred_username"] == username
    assert claims["name"] == username
    assert claims["email"] == email
    assert claims["email_verified"] is verified


def assert_full_flow(
    report: dict[str, Any],
    provider: Provider,
    client: RpClient,
    username: str,
    groups: list[str],
    amr: str = "pwd",
) -> str:
    """Every step of rp.mjs answered as the contract says; the subject, for comparisons.

    `amr`: how the sessions were made, `pwd` (a password alone) or `mfa` (and a second factor).
    """
    assert "failed" not in report, json.dumps(report, indent=1)[:6000]
    assert report["steps"] == FULL_FLOW, json.dumps(report, indent=1)[:6000]
    assert_discovery(report, provider.issuer)
    email = provider.emails[username]
    verified = username in ("alice", "carol")

    first = report["first"]
    # Anonymous: the authorization endpoint sends the browser to the real sign-in page.
    assert path_of(first["hops"][0]["url"]) == "/oidc/authorize"
    assert first["hops"][0]["status"] in (302, 303)
    assert path_of(first["hops"][0]["location"]) == "/sign-in"
    assert first["sign_in"] == 1
    assert first.get("consent", 0) == (1 if client.consent == "remember" else 0)
    if client.consent == "remember":  # the page names the app and the person
        assert f"Test app {client.id}" in first["consent_page"]
        assert username in first["consent_page"]
    assert first.get("stuck") is None
    callback = first["callback"]
    assert callback["iss"] == provider.issuer  # RFC 9207
    assert callback["state"]
    assert callback["code"]
    assert first["token_type"].lower() == "bearer"
    assert 0 < first["expires_in"] <= 3600
    assert first["has_refresh_token"] is True
    assert set(first["scope"].split()) == set(ALL_SCOPES.split())
    header = first["id_token_header"]
    assert header["alg"] == client.alg
    assert header["kid"]
    claims = first["claims"]
    assert claims["iss"] == provider.issuer
    assert claims["aud"] in (client.id, [client.id])
    assert claims["nonce"]  # openid-client compared it with the one it sent
    assert claims["exp"] > claims["iat"] >= claims["auth_time"] > 0
    assert claims["amr"] == [amr]  # RFC 8176
    assert claims["acr"] == amr
    assert claims["sid"]
    assert claims["at_hash"]
    assert_person(claims, username, email, verified)
    assert sorted(claims.get("groups", [])) == groups
    sub: str = claims["sub"]

    jwks = report["jwks_check"]
    assert jwks["alg"] == client.alg
    assert jwks["forged_refused"] is True
    assert jwks["kid"] in {key["kid"] for key in jwks["jwks"]}
    assert not any(key["private"] for key in jwks["jwks"])  # public halves only
    assert {"RSA", "EC"} <= {key["kty"] for key in jwks["jwks"]}

    userinfo = report["userinfo"]
    assert userinfo["sub"] == sub
    assert_person(userinfo, username, email, verified)
    assert sorted(userinfo.get("groups", [])) == groups

    refresh = report["refresh"]
    assert refresh["rotated"] is True
    assert refresh["has_refresh_token"] is True
    if refresh["claims"] is not None:  # an ID token on refresh keeps the subject
        assert refresh["claims"]["sub"] == sub
        assert refresh["claims"]["aud"] in (client.id, [client.id])
    assert refresh["userinfo"]["sub"] == sub
    assert refresh["userinfo"]["email_verified"] is verified

    # Reuse detection: the spent refresh token is refused and takes its successor with it.
    assert report["reuse"]["old"]["refused"]["error"] == "invalid_grant"
    assert report["reuse"]["successor"]["refused"]["error"] == "invalid_grant"

    second = report["second"]  # prompt=none in the same browser: no page at all
    assert "sign_in" not in second
    assert "consent" not in second
    assert second["claims"]["sub"] == sub
    assert second["callback"]["iss"] == provider.issuer

    if client.auth != "none":
        before = report["introspect_before"]
        assert before["active"] is True
        assert before["sub"] == sub
        assert before["client_id"] == client.id
        assert report["introspect_after"] == {"active": False}
    assert report["userinfo_after_revoke"]["refused"]["status"] == 401
    assert report["refresh_after_revoke"]["refused"]["error"] == "invalid_grant"

    third = report["third"]  # prompt=login: the password again, same subject
    assert third["sign_in"] == 1
    assert "consent" not in third
    assert third["claims"]["sub"] == sub
    assert third["claims"]["auth_time"] >= claims["auth_time"]

    logout = report["logout"]
    landed = urlsplit(logout["landed"])
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == client.post_logout_redirect_uri
    assert parse_qs(landed.query) == {"state": [logout["expected_state"]]}
    assert "confirm" not in logout  # a valid id_token_hint: no question asked
    assert logout["session_check"] == 401  # the signin session ended too
    assert report["after_logout"]["callback"]["error"] == "login_required"
    return sub


def test_confidential_client_secret_basic_whole_flow(provider: Provider) -> None:
    report = run_rp(provider, BASIC, "alice")
    assert_full_flow(report, provider, BASIC, "alice", ["dev", "staff"])
    assert report["first"]["callback_via"] == "query"


def test_confidential_client_secret_post_form_post_es256(provider: Provider) -> None:
    report = run_rp(provider, POST, "alice", response_mode="form_post")
    sub = assert_full_flow(report, provider, POST, "alice", ["dev", "staff"])
    assert report["first"]["callback_via"] == "form_post"
    assert report["first"]["callback"]["iss"] == provider.issuer
    # The subject is the same for every client (subject type public), never the username.
    again = run_rp(provider, BASIC, "alice")
    assert again["first"]["claims"]["sub"] == sub


def test_public_client_with_pkce_unverified_email_no_groups(provider: Provider) -> None:
    report = run_rp(provider, PUBLIC, "bob")
    assert_full_flow(report, provider, PUBLIC, "bob", [])
    assert "code_challenge=" in report["first"]["url"]
    assert "code_challenge_method=S256" in report["first"]["url"]


def test_client_limited_to_a_group_refuses_others(provider: Provider) -> None:
    report = run_rp(provider, ADMINS_ONLY, "bob")
    assert "failed" not in report, report
    callback = report["first"]["callback"]
    assert callback["error"] == "access_denied"
    assert callback["iss"] == provider.issuer
    assert callback["state"]
    assert "code" not in callback


def test_client_requiring_a_second_factor_steps_up(provider: Provider) -> None:
    """require_two_factor: after the password, signin's second step (here a recovery code)."""
    codes = provider.recovery_codes[:2]
    report = run_rp(provider, SECURE, "carol", second_factor_codes=codes)
    assert_full_flow(report, provider, SECURE, "carol", [], amr="mfa")
    assert report["first"]["second_factor"] == 1
    assert path_of(report["first"]["hops"][2]["location"]) == "/sign-in/two-factor"
    assert "second_factor" not in report["second"]  # the session has two factors now
    assert report["third"]["second_factor"] == 1  # prompt=login: both steps again
