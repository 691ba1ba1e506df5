"""OpenID Connect, modelled on the conformance suite's Basic OP plan: the code flow end to end
through signin's own sign-in page, then the ID token, UserInfo, refresh, revocation, logout."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from signin.accounts.clock import FrozenClock
from tests.http.oidcflows import (
    CALLBACK,
    CLIENTS,
    ISSUER,
    LOGOUT_RETURN,
    SECRET,
    answer_of,
    auth_params,
    authorize_counting_sign_ins,
    code_for,
    exchange,
    oidc_app,
    pkce,
    sign_in_at,
    sign_out,
    sign_up,
    write_clients,
)
from tests.support import csrf_of


def verify_id_token(token: str, jwks: dict[str, object], alg: str = "RS256") -> dict[str, object]:
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg])  # type: ignore[arg-type]
    assert decoded.header["alg"] == alg
    return dict(decoded.claims)


async def test_discovery_names_every_endpoint_and_refuses_request_objects(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        doc = (await client.get("/.well-known/openid-configuration")).json()
        assert doc["issuer"] == ISSUER
        assert doc["authorization_endpoint"] == f"{ISSUER}/oidc/authorize"
        assert doc["token_endpoint"] == f"{ISSUER}/oidc/token"
        assert doc["jwks_uri"] == f"{ISSUER}/oidc/jwks"
        assert doc["end_session_endpoint"] == f"{ISSUER}/oidc/logout"
        assert doc["request_parameter_supported"] is False
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert set(doc["scopes_supported"]) >= {"openid", "profile", "email", "groups"}
        assert "none" not in doc["id_token_signing_alg_values_supported"]
        assert doc["prompt_values_supported"] == ["none", "login", "consent"]
        keys = (await client.get("/oidc/jwks")).json()["keys"]
        assert {key["alg"] for key in keys} == {"RS256", "ES256", "Ed25519"}
        assert all("d" not in key for key in keys)  # never a private part


async def test_full_code_flow_through_the_sign_in_page(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client, "alice")
        await client.post(
            "/sign-out", data={"csrf_token": csrf_of((await client.get("/sign-out")).text)}
        )
        verifier, challenge = pkce()
        params = auth_params("app", code_challenge=challenge, code_challenge_method="S256")
        first = await client.get("/oidc/authorize", params=params)
        assert first.status_code == 303
        sign_in_url = first.headers["location"]
        assert sign_in_url.startswith(f"{ISSUER}/sign-in?next=/oidc/authorize")
        signed_in = await sign_in_at(client, sign_in_url)
        assert signed_in.status_code == 303
        back = await client.get(signed_in.headers["location"])
        assert back.status_code == 200  # the consent page
        assert "The App" in back.text
        consent = await client.post(
            "/oidc/consent",
            data={
                "csrf_token": csrf_of(back.text),
                "request": back.text.split('name="request" value="')[1].split('"')[0],
                "answer": "allow",
            },
        )
        answer = answer_of(consent)
        assert answer["state"] == "st-1"
        assert answer["iss"] == ISSUER
        tokens = await exchange(client, answer["code"], "app", code_verifier=verifier)
        assert tokens.status_code == 200, tokens.text
        assert tokens.headers["cache-control"] == "no-store"
        body = tokens.json()
        assert body["token_type"] == "Bearer"
        assert "refresh_token" not in body  # no offline_access asked, none configured
        claims = verify_id_token(body["id_token"], (await client.get("/oidc/jwks")).json())
        assert claims["iss"] == ISSUER
        assert claims["aud"] == "app"
        assert claims["nonce"] == "n-1"
        assert claims["preferred_username"] == "alice"
        assert claims["sub"] != "alice"
        assert claims["amr"] == ["pwd"]
        assert claims["acr"] == "pwd"
        info = await client.get(
            "/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert info.status_code == 200
        assert info.json()["sub"] == claims["sub"]
        assert info.json()["groups"] == []
        # The consent is remembered: a second request gives a code without asking.
        again = answer_of(
            await client.get("/oidc/authorize", params=auth_params("app", code_challenge=challenge))
        )
        assert "code" in again
        events = [event.type for event in await services.audit.query(_all())]
        assert "oidc_consent_given" in events
        assert "oidc_token_issued" in events


def _all():  # type: ignore[no-untyped-def]
    from signin.accounts.audit import AuditQuery

    return AuditQuery(limit=1000)


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client)
        code = await code_for(client, "first", scope="openid offline_access")
        first = (await exchange(client, code)).json()
        refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        second = await client.post("/oidc/token", data=refresh, auth=("first", SECRET))
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"]
        again = await client.post("/oidc/token", data=refresh, auth=("first", SECRET))
        assert again.status_code == 400
        assert again.json()["error"] == "invalid_grant"
        # The reuse ended the family: the rotated refresh and access tokens are dead too.
        newer = {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]}
        dead = await client.post("/oidc/token", data=newer, auth=("first", SECRET))
        assert dead.json()["error"] == "invalid_grant"
        info = await client.get(
            "/oidc/userinfo", headers={"Authorization": f"Bearer {rotated['access_token']}"}
        )
        assert info.status_code == 401
        await services.audit.flush()
        events = await services.audit.query(_all())
        types = {event.type for event in events}
        assert {"oidc_token_refreshed", "oidc_request_refused"} <= types
        refused = [e.details for e in events if e.type == "oidc_request_refused"]
        assert {"client": "first", "error": "refresh_reused"} in refused
        written = repr([event.details for event in events])
        for secret in (first["refresh_token"], rotated["access_token"], first["access_token"]):
            assert secret not in written


async def test_revocation_and_introspection_are_exact(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client)
        body = (await exchange(client, await code_for(client, "first"))).json()
        access = body["access_token"]
        seen = await client.post("/oidc/introspect", data={"token": access}, auth=("first", SECRET))
        assert seen.json()["active"] is True
        assert seen.json()["client_id"] == "first"
        other = await client.post("/oidc/introspect", data={"token": access}, auth=("app", SECRET))
        assert other.json() == {"active": False}  # another client's token tells nothing
        public = await client.post("/oidc/introspect", data={"token": access, "client_id": "spa"})
        assert public.status_code == 401
        # Another client cannot revoke it.
        await client.post("/oidc/revoke", data={"token": access}, auth=("app", SECRET))
        assert (
            await client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access}"})
        ).status_code == 200
        gone = await client.post("/oidc/revoke", data={"token": access}, auth=("first", SECRET))
        assert gone.status_code == 200
        assert (
            await client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access}"})
        ).status_code == 401
        seen = await client.post("/oidc/introspect", data={"token": access}, auth=("first", SECRET))
        assert seen.json() == {"active": False}
        await services.audit.flush()
        revoked = [e for e in await services.audit.query(_all()) if e.type == "oidc_token_revoked"]
        assert [event.details for event in revoked] == [{"client": "first", "kind": "access"}]


async def test_logout_with_id_token_hint_ends_the_session_and_returns(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        body = (await exchange(client, await code_for(client, "first"))).json()
        hint = body["id_token"]
        # The hint names client "first", which registered no such return address: error page.
        refused = await client.get(
            "/oidc/logout",
            params={"id_token_hint": hint, "post_logout_redirect_uri": LOGOUT_RETURN},
        )
        assert refused.status_code == 400
        assert "location" not in refused.headers
        done = await client.get("/oidc/logout", params={"id_token_hint": hint})
        assert done.status_code == 200
        assert "You are signed out" in done.text
        none = await client.get("/oidc/authorize", params=auth_params("first", prompt="none"))
        assert answer_of(none)["error"] == "login_required"


async def test_logout_returns_to_the_registered_address_with_state(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        verifier, challenge = pkce()
        first = await client.get(
            "/oidc/authorize", params=auth_params("app", code_challenge=challenge)
        )
        page = first.text
        consent = await client.post(
            "/oidc/consent",
            data={
                "csrf_token": csrf_of(page),
                "request": page.split('name="request" value="')[1].split('"')[0],
                "answer": "allow",
            },
        )
        code = answer_of(consent)["code"]
        body = (await exchange(client, code, "app", code_verifier=verifier)).json()
        back = await client.get(
            "/oidc/logout",
            params={
                "id_token_hint": body["id_token"],
                "post_logout_redirect_uri": LOGOUT_RETURN,
                "state": "bye-1",
            },
        )
        assert back.status_code == 303
        assert back.headers["location"] == f"{LOGOUT_RETURN}?state=bye-1"
        assert (await client.get("/account")).status_code == 303  # signed out
        assert CALLBACK


async def test_logout_without_hint_asks_first(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        page = await client.get("/oidc/logout", params={"client_id": "app", "state": "x"})
        assert page.status_code == 200
        assert 'name="confirm" value="1"' in page.text
        assert (await client.get("/account")).status_code == 200  # not signed out yet
        forged = await client.post("/oidc/logout", data={"confirm": "1"})
        assert forged.status_code == 403
        done = await client.post(
            "/oidc/logout", data={"csrf_token": csrf_of(page.text), "confirm": "1"}
        )
        assert done.status_code == 200
        assert "You are signed out" in done.text
        assert (await client.get("/account")).status_code == 303


async def test_forced_sign_in_comes_back_with_a_code(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        posted = await client.post("/oidc/authorize", data=auth_params("first", max_age="0"))
        assert posted.status_code == 303  # a POST becomes a GET, which carries the cookie
        forced = await client.get(posted.headers["location"])
        sign_in_url = forced.headers["location"]
        assert sign_in_url.startswith(f"{ISSUER}/sign-in?next=")
        signed_in = await sign_in_at(client, sign_in_url)
        back = await client.get(signed_in.headers["location"])
        answer = answer_of(back)
        assert "code" in answer  # satisfied by the new sign-in, not sent round again
        assert answer["state"] == "st-1"


async def test_a_native_app_gets_its_code_on_its_own_scheme(tmp_path: Path) -> None:
    """RFC 8252: Immich's mobile app (a public client with PKCE) registers
    `app.immich:///oauth-callback`; the code goes there, and the pages' CSP lets forms go there."""
    native = "app.immich:///oauth-callback"
    (tmp_path / "native").mkdir()
    clients = write_clients(
        tmp_path / "native",  # oidc_app writes its own file in tmp_path
        CLIENTS + f'\n[[client]]\nid = "mobile"\nredirect_uris = ["{native}"]\nconsent = "skip"\n',
    )
    async with oidc_app(tmp_path, oidc_clients=clients) as (client, _services):
        await sign_up(client)
        verifier, challenge = pkce()
        response = await client.get(
            "/oidc/authorize",
            params=auth_params("mobile", redirect_uri=native, code_challenge=challenge),
        )
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.startswith(native + "?")
        answer = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert answer["state"] == "st-1"
        assert answer["iss"] == ISSUER
        assert "app.immich:" in response.headers["content-security-policy"]
        token = await client.post(
            "/oidc/token",
            data={
                "grant_type": "authorization_code",
                "code": answer["code"],
                "redirect_uri": native,
                "client_id": "mobile",
                "code_verifier": verifier,
            },
        )
        assert token.status_code == 200, token.text
        assert token.json()["token_type"] == "Bearer"
        # Another app's scheme, or the same with a different path, is refused on a page.
        wrong = await client.get(
            "/oidc/authorize",
            params=auth_params(
                "mobile", redirect_uri="app.immich:///other", code_challenge=challenge
            ),
        )
        assert wrong.status_code == 400
        assert "location" not in wrong.headers


@pytest.mark.parametrize(
    ("alg", "digest"), [("RS256", "sha256"), ("ES256", "sha256"), ("Ed25519", "sha512")]
)
async def test_at_hash_uses_the_hash_of_the_signing_algorithm(
    tmp_path: Path, alg: str, digest: str
) -> None:
    """OIDC Core 3.1.3.6: the left half of the access token's hash; Ed25519 hashes with SHA-512."""
    first = 'consent = "skip"\n'  # the "first" client's last line
    signed = tmp_path / "signed.toml"
    signed.write_text(
        CLIENTS.replace(first, f'{first}id_token_signed_response_alg = "{alg}"\n', 1), "utf-8"
    )
    async with oidc_app(tmp_path, oidc_clients=signed) as (client, _):
        await sign_up(client, "alice")
        tokens = await exchange(client, await code_for(client, "first"), "first")
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        claims = verify_id_token(body["id_token"], (await client.get("/oidc/jwks")).json(), alg)
        full = hashlib.new(digest, body["access_token"].encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(full[: len(full) // 2]).rstrip(b"=").decode()
        assert claims["at_hash"] == expected


async def test_one_sign_in_satisfies_prompt_login_and_max_age_from_a_fresh_browser(
    tmp_path: Path,
) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        for extra in ({"prompt": "login"}, {"max_age": "0"}, {"prompt": "login", "max_age": "0"}):
            await sign_out(client)
            sign_ins, answer = await authorize_counting_sign_ins(
                client, auth_params("first", **extra)
            )
            assert sign_ins == 1, extra
            assert "code" in answer_of(answer), extra


async def test_prompt_login_when_signed_in_takes_one_new_sign_in_and_reports_it(
    tmp_path: Path,
) -> None:
    clock = FrozenClock()
    async with oidc_app(tmp_path, clock=clock) as (client, _):
        await sign_up(client)
        clock.advance(120)
        sign_ins, answer = await authorize_counting_sign_ins(
            client, auth_params("first", prompt="login")
        )
        assert sign_ins == 1
        body = (await exchange(client, answer_of(answer)["code"])).json()
        claims = verify_id_token(body["id_token"], (await client.get("/oidc/jwks")).json())
        assert claims["auth_time"] == int(clock())  # the new sign-in's, not the first one's


async def test_prompt_select_account_is_accepted_and_keeps_the_signed_in_account(
    tmp_path: Path,
) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        params = auth_params("first", prompt="select_account")
        assert "code" in answer_of(await client.get("/oidc/authorize", params=params))


async def test_a_refresh_asking_for_less_gets_an_access_token_for_less(tmp_path: Path) -> None:
    """RFC 6749 section 6: the new access token has the narrower scope; the refresh token keeps
    the grant's, so a later refresh may ask for all of it again."""
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        code = await code_for(client, "first", scope="openid profile email offline_access")
        first = (await exchange(client, code)).json()
        assert first["scope"] == "openid profile email offline_access"
        jwks = (await client.get("/oidc/jwks")).json()

        async def refresh(token: str, **scope: str) -> dict[str, str]:
            data = {"grant_type": "refresh_token", "refresh_token": token, **scope}
            answer = await client.post("/oidc/token", data=data, auth=("first", SECRET))
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        narrow = await refresh(first["refresh_token"], scope="openid")
        assert narrow["scope"] == "openid"
        claims = verify_id_token(narrow["id_token"], jwks)
        assert "preferred_username" not in claims
        bearer = {"Authorization": f"Bearer {narrow['access_token']}"}
        info = (await client.get("/oidc/userinfo", headers=bearer)).json()
        assert set(info) == {"sub"}
        seen = await client.post(
            "/oidc/introspect", data={"token": narrow["access_token"]}, auth=("first", SECRET)
        )
        assert seen.json()["scope"] == "openid"
        no_openid = await refresh(narrow["refresh_token"], scope="profile")
        assert no_openid["scope"] == "profile"
        assert "id_token" not in no_openid
        wider = {"grant_type": "refresh_token", "refresh_token": no_openid["refresh_token"]}
        widened = await client.post(
            "/oidc/token", data={**wider, "scope": "openid groups"}, auth=("first", SECRET)
        )
        assert widened.json()["error"] == "invalid_scope"
        whole = await refresh(no_openid["refresh_token"])
        assert whole["scope"] == "openid profile email offline_access"
        bearer = {"Authorization": f"Bearer {whole['access_token']}"}
        info = (await client.get("/oidc/userinfo", headers=bearer)).json()
        assert info["preferred_username"] == "alice"
