"""A real relying party (authlib's httpx client) against a real `signin serve` process: the whole
code flow through the real sign-in page, then the ID token checked against the JWKS, UserInfo,
refresh, revocation and RP-initiated logout; nothing replayable in the server's log."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from tests.integration.oidc_rp import (
    CALLBACK,
    LOGOUT_RETURN,
    PASSWORD,
    browser_sign_in,
    clients_toml,
    query_of,
    rp_client,
    verified_claims,
)
from tests.support import csrf_of

pytestmark = [pytest.mark.slow]


async def test_authlib_client_does_the_whole_flow(tmp_path: Path) -> None:
    clients = tmp_path / "clients.toml"
    clients.write_text(clients_toml(), encoding="utf-8")
    log = tmp_path / "server.log"
    env = {"SIGNIN_DATA_DIR": str(tmp_path / "data"), "SIGNIN_OIDC_CLIENTS": str(clients)}
    env["SIGNIN_COOKIE_SECURE"] = "false"
    env["SIGNIN_LOG_LEVEL"] = "debug"  # the most the log ever says: still no secret
    env["SIGNIN_PUBLIC_URL"] = "http://127.0.0.1:{port}"
    with server_at_own_url(env, log) as (base, meta):
        async with httpx.AsyncClient() as browser:
            signed_up = await browser.post(
                base + "/sign-up",
                data={
                    "csrf_token": csrf_of((await browser.get(base + "/sign-up")).text),
                    "username": "Carol",
                    "password": PASSWORD,
                },
            )
            assert signed_up.status_code == 303
            await browser.post(
                base + "/sign-out",
                data={"csrf_token": csrf_of((await browser.get(base + "/sign-out")).text)},
            )
            async with rp_client() as rp:
                verifier = secrets.token_urlsafe(48)
                nonce = secrets.token_urlsafe(16)
                url, state = rp.create_authorization_url(
                    meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
                )
                callback = await browser_sign_in(browser, url, "carol")
                answer = query_of(callback)
                assert answer["iss"] == meta["issuer"]
                assert answer["state"] == state
                token = await rp.fetch_token(
                    meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
                )
                jwks = (await rp.get(meta["jwks_uri"])).json()
                claims = verified_claims(token["id_token"], jwks)
                assert claims["iss"] == meta["issuer"]
                assert claims["aud"] == "rp"
                assert claims["nonce"] == nonce
                assert claims["preferred_username"] == "Carol"
                info = (await rp.get(meta["userinfo_endpoint"])).json()
                assert info["sub"] == claims["sub"]
                assert info["preferred_username"] == "Carol"
                first_refresh = token["refresh_token"]
                renewed = await rp.refresh_token(meta["token_endpoint"])
                assert renewed["refresh_token"] != first_refresh
                assert verified_claims(renewed["id_token"], jwks)["sub"] == claims["sub"]
                assert (await rp.get(meta["userinfo_endpoint"])).status_code == 200
                revoked = await rp.revoke_token(
                    meta["revocation_endpoint"],
                    token=renewed["refresh_token"],
                    token_type_hint="refresh_token",
                )
                assert revoked.status_code == 200
                assert (await rp.get(meta["userinfo_endpoint"])).status_code == 401
            bye = await browser.get(
                meta["end_session_endpoint"],
                params={
                    "id_token_hint": token["id_token"],
                    "post_logout_redirect_uri": LOGOUT_RETURN,
                    "state": "bye",
                },
            )
            assert bye.status_code == 303
            assert bye.headers["location"] == LOGOUT_RETURN + "?state=bye"
            silent = await browser.get(
                meta["authorization_endpoint"],
                params={
                    "client_id": "rp",
                    "redirect_uri": CALLBACK,
                    "response_type": "code",
                    "scope": "openid",
                    "prompt": "none",
                    "code_challenge": "x" * 43,
                    "code_challenge_method": "S256",
                },
            )
            assert query_of(silent.headers["location"])["error"] == "login_required"
    logged = log.read_text(errors="replace")
    for secret in (token["access_token"], token["refresh_token"], answer["code"], verifier):
        assert secret not in logged
    assert token["id_token"] not in logged


class server_at_own_url:
    """`signin serve` on a free port whose SIGNIN_PUBLIC_URL names that port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        from tests.support import ServerProcess, free_port

        port = free_port()
        url = env["SIGNIN_PUBLIC_URL"].format(port=port)
        self.process = ServerProcess({**env, "SIGNIN_PUBLIC_URL": url}, port=port, log_path=log)
        self.url = url

    def __enter__(self) -> tuple[str, dict[str, str]]:
        self.process.start()
        meta = httpx.get(self.url + "/.well-known/openid-configuration").json()
        return self.url, meta

    def __exit__(self, *exc: object) -> None:
        self.process.stop()
