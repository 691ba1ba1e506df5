"""OpenID Connect refusals, after the conformance suite's Basic and Config OP plans: each bad
input gets its OAuth error in the right place (error page, redirect, JSON), never a 5xx and
never a token for the wrong client."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from signin.accounts.audit import AuditQuery
from signin.accounts.clock import FrozenClock
from signin.accounts.oidc.clients import hash_secret
from signin.services import Services
from tests.http.oidcflows import (
    CALLBACK,
    CLIENTS,
    SECRET,
    answer_of,
    auth_params,
    authorize_counting_sign_ins,
    code_for,
    exchange,
    id_token_of,
    oidc_app,
    pkce,
    s256,
    sign_up,
    write_clients,
)


@pytest.mark.parametrize(
    "params",
    [
        auth_params("nobody"),
        auth_params("app", redirect_uri="https://evil.example/callback"),
        auth_params("app", redirect_uri=CALLBACK + "/more"),
        auth_params("app", redirect_uri=""),
    ],
    ids=["unknown-client", "foreign-redirect", "prefix-redirect", "no-redirect"],
)
async def test_bad_client_or_redirect_uri_is_a_page_never_a_redirect(
    tmp_path: Path, params: dict[str, str]
) -> None:
    async with oidc_app(tmp_path) as (client, services):
        response = await client.get("/oidc/authorize", params=params)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "evil.example" not in response.text
        await services.audit.flush()
        refused = await services.audit.query(AuditQuery(types=("oidc_request_refused",)))
        assert refused[0].details == {"client": params["client_id"], "error": "invalid_client"}


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"request": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}, "request_not_supported"),
        ({"request_uri": "https://evil.example/r"}, "request_uri_not_supported"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": ""}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"state": "st\x00"}, "invalid_request"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ],
)
async def test_bad_requests_go_back_to_the_client_with_state_and_iss(
    tmp_path: Path, extra: dict[str, str], error: str
) -> None:
    async with oidc_app(tmp_path) as (client, _):
        answer = answer_of(await client.get("/oidc/authorize", params=auth_params("app", **extra)))
        assert answer["error"] == error
        assert answer["iss"] == "https://id.example.test"
        assert "code" not in answer


async def test_repeated_parameter_and_public_client_without_pkce(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        query = "&".join(f"{k}={v}" for k, v in auth_params("app").items()) + "&scope=openid"
        assert answer_of(await client.get("/oidc/authorize?" + query))["error"] == "invalid_request"
        spa = answer_of(await client.get("/oidc/authorize", params=auth_params("spa")))
        assert spa["error"] == "invalid_request"


async def test_prompt_none_without_session_is_login_required(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        answer = answer_of(
            await client.get("/oidc/authorize", params=auth_params("first", prompt="none"))
        )
        assert answer == {
            "error": "login_required",
            "error_description": "Not signed in.",
            "state": "st-1",
            "iss": "https://id.example.test",
        }


async def test_consent_required_deny_and_prompt_consent(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        verifier, challenge = pkce()
        none = await client.get(
            "/oidc/authorize", params=auth_params("app", prompt="none", code_challenge=challenge)
        )
        assert answer_of(none)["error"] == "consent_required"
        from tests.http.oidcflows import consent_answer

        page = await client.get("/oidc/authorize", params=auth_params("app"))
        assert page.status_code == 200
        denied = answer_of(await consent_answer(client, page.text, "deny"))
        assert denied["error"] == "access_denied"
        allowed = answer_of(await consent_answer(client, page.text, "allow"))
        assert "code" in allowed
        forced = await client.get("/oidc/authorize", params=auth_params("app", prompt="consent"))
        assert forced.status_code == 200
        assert 'name="answer" value="allow"' in forced.text
        assert verifier


async def test_max_age_and_prompt_login_send_the_browser_to_sign_in_again(tmp_path: Path) -> None:
    clock = FrozenClock()
    async with oidc_app(tmp_path, clock=clock) as (client, _):
        await sign_up(client)
        clock.advance(30)
        fresh = await client.get("/oidc/authorize", params=auth_params("first", max_age="60"))
        assert "code" in answer_of(fresh)
        old = await client.get("/oidc/authorize", params=auth_params("first", max_age="10"))
        assert old.status_code == 303
        assert old.headers["location"].startswith("https://id.example.test/sign-in?next=")
        assert "auth_after" in old.headers["location"]
        silent = await client.get(
            "/oidc/authorize", params=auth_params("first", max_age="10", prompt="none")
        )
        assert answer_of(silent)["error"] == "login_required"
        login = await client.get("/oidc/authorize", params=auth_params("first", prompt="login"))
        assert login.headers["location"].startswith("https://id.example.test/sign-in?next=")


async def test_groups_and_second_factor_rules_of_a_client(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client)
        staff = answer_of(await client.get("/oidc/authorize", params=auth_params("staff")))
        assert staff["error"] == "access_denied"
        step = await client.get("/oidc/authorize", params=auth_params("secure"))
        assert step.status_code == 303
        assert step.headers["location"].startswith("https://id.example.test/sign-in/two-factor?")
        silent = await client.get("/oidc/authorize", params=auth_params("secure", prompt="none"))
        assert answer_of(silent)["error"] == "interaction_required"
        user = await services.users.by_canon("alice")
        assert user is not None
        await services.users.change_groups(user.id, ["staff"], [])
        assert "code" in answer_of(await client.get("/oidc/authorize", params=auth_params("staff")))
        await services.audit.flush()


async def test_code_is_single_use_and_a_replay_revokes_its_tokens(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        code = await code_for(client)
        first = await exchange(client, code)
        assert first.status_code == 200
        replay = await exchange(client, code)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        access = first.json()["access_token"]
        info = await client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access}"})
        assert info.status_code == 401


async def test_expired_code_wrong_redirect_and_wrong_client(tmp_path: Path) -> None:
    clock = FrozenClock()
    async with oidc_app(tmp_path, clock=clock) as (client, _):
        await sign_up(client)
        code = await code_for(client)
        clock.advance(61)
        expired = await exchange(client, code)
        assert expired.json()["error"] == "invalid_grant"
        code = await code_for(client)
        moved = await exchange(client, code, redirect_uri="https://app.example.test/cb?x=1")
        assert moved.json()["error"] == "invalid_grant"
        code = await code_for(client)
        stolen = await exchange(client, code, "app")  # a code of "first" at client "app"
        assert stolen.status_code == 400
        assert "access_token" not in stolen.json()


async def test_client_authentication(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        code = await code_for(client)
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
        wrong = await client.post("/oidc/token", data=data, auth=("first", "wrong"))
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
        assert wrong.headers["www-authenticate"].startswith("Basic")
        posted = await client.post("/oidc/token", data={**data, "client_id": "post"}, auth=None)
        assert posted.status_code == 401  # "post" must send its secret
        basic_for_post = await client.post("/oidc/token", data=data, auth=("post", SECRET))
        assert basic_for_post.status_code == 401  # registered for client_secret_post
        as_json = await client.post("/oidc/token", json=data, auth=("first", SECRET))
        assert as_json.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "kind",
    [
        "password",
        "client_credentials",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "magic",
    ],
)
async def test_grant_types_the_server_does_not_support(tmp_path: Path, kind: str) -> None:
    async with oidc_app(tmp_path) as (client, _):
        data = {"grant_type": kind, "username": "alice", "password": "x"}
        answer = await client.post("/oidc/token", data=data, auth=("first", SECRET))
        assert answer.status_code == 400
        assert answer.json()["error"] == "unsupported_grant_type"


async def test_refresh_grant_of_a_client_that_gets_no_refresh_tokens(tmp_path: Path) -> None:
    clients = (
        CLIENTS
        + f"""
[[client]]
id = "online"
redirect_uris = ["{CALLBACK}"]
secret_hash = "{hash_secret(SECRET)}"
scopes = ["openid", "profile"]
"""
    )
    (tmp_path / "online").mkdir()
    path = write_clients(tmp_path / "online", clients)  # oidc_app writes its own in tmp_path
    async with oidc_app(tmp_path, oidc_clients=path) as (client, _):
        data = {"grant_type": "refresh_token", "refresh_token": "x" * 43}
        online = await client.post("/oidc/token", data=data, auth=("online", SECRET))
        assert online.status_code == 400
        assert online.json()["error"] == "unauthorized_client"
        first = await client.post("/oidc/token", data=data, auth=("first", SECRET))
        assert first.json()["error"] == "invalid_grant"  # may refresh; this token is unknown


async def test_pkce_mismatch_and_downgrade(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        verifier, challenge = pkce()
        code = await code_for(client, "first", code_challenge=challenge)
        wrong = await exchange(client, code, code_verifier=pkce()[0])
        assert wrong.json()["error"] == "invalid_grant"
        code = await code_for(client, "first", code_challenge=challenge)
        missing = await exchange(client, code)
        assert missing.json()["error"] == "invalid_grant"
        code = await code_for(client, "first")
        downgrade = await exchange(client, code, code_verifier=verifier)
        assert downgrade.json()["error"] == "invalid_grant"
        code = await code_for(client, "first", code_challenge=challenge)
        assert (await exchange(client, code, code_verifier=verifier)).status_code == 200


async def test_form_post_answers_with_a_form_the_policy_allows(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        page = await client.get(
            "/oidc/authorize", params=auth_params("first", response_mode="form_post")
        )
        assert page.status_code == 200
        assert f'action="{CALLBACK}"' in page.text
        assert 'name="code"' in page.text
        assert 'name="iss" value="https://id.example.test"' in page.text
        assert "/static/js/form-post.js" in page.text
        policy = page.headers["content-security-policy"]
        assert "https://app.example.test" in policy.split("form-action")[1]
        assert "script-src 'self'" in policy
        assert page.headers["referrer-policy"] == "no-referrer"


async def test_a_second_factor_client_gets_mfa_through_the_real_second_step(
    tmp_path: Path,
) -> None:
    from urllib.parse import parse_qs, urlsplit

    from joserfc import jwt
    from joserfc.jwk import KeySet

    from tests.http.twofactorflows import App, second_step, signed_up_and_enrolled
    from tests.support import csrf_of

    clock = FrozenClock(1_800_000_010.0)
    async with oidc_app(tmp_path, clock=clock) as (client, services):
        app = App(client, services, clock)
        secret, _ = await signed_up_and_enrolled(app)
        first = await client.get("/oidc/authorize", params=auth_params("secure"))
        sign_in_url = first.headers["location"]
        fields = {k: v[0] for k, v in parse_qs(urlsplit(sign_in_url).query).items()}
        page = await client.get(sign_in_url)
        password = await client.post(
            "/sign-in",
            data={"csrf_token": csrf_of(page.text), "username": "alice", **fields}
            | {"password": "correct horse battery"},
        )
        assert password.status_code == 303
        assert password.headers["location"] == "/sign-in/two-factor"
        done = await second_step(app, app.code(secret))
        assert done.status_code == 303
        assert done.headers["location"].startswith("/oidc/authorize?")
        code = answer_of(await client.get(done.headers["location"]))["code"]
        body = (await exchange(client, code, "secure")).json()
        jwks = KeySet.import_key_set((await client.get("/oidc/jwks")).json())
        claims = jwt.decode(body["id_token"], jwks, algorithms=["RS256"]).claims
        assert claims["acr"] == "mfa"
        assert claims["amr"] == ["mfa"]


async def test_client_secret_post_es256_and_offline_access_by_setting(tmp_path: Path) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from tests.http.oidcflows import consent_answer

    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        page = await client.get("/oidc/authorize", params=auth_params("post", scope="openid"))
        code = answer_of(await consent_answer(client, page.text, "allow"))["code"]
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": "post",
            "client_secret": SECRET,
        }
        body = (await client.post("/oidc/token", data=data)).json()
        assert "refresh_token" in body  # offline_access = true for this client
        jwks = KeySet.import_key_set((await client.get("/oidc/jwks")).json())
        decoded = jwt.decode(body["id_token"], jwks, algorithms=["ES256"])
        assert decoded.header["alg"] == "ES256"
        assert "email" not in decoded.claims  # scope openid only: no profile or email claims


async def test_id_token_hint_naming_another_user_gives_no_code_for_the_signed_in_one(
    tmp_path: Path,
) -> None:
    async with oidc_app(tmp_path) as (client, services):
        bob = await id_token_of(client, "bob")
        await sign_up(client, "alice")  # alice is signed in now
        silent = auth_params("first", prompt="none", id_token_hint=bob)
        answer = answer_of(await client.get("/oidc/authorize", params=silent))
        assert answer["error"] == "login_required"
        assert answer["state"] == "st-1"
        # Interactive: sign in again; alice once more is still not the user the hint names.
        sign_ins, again = await authorize_counting_sign_ins(
            client, auth_params("first", id_token_hint=bob), "alice"
        )
        assert sign_ins == 1
        assert answer_of(again)["error"] == "login_required"
        # Signing in as bob answers the hint: a code, for bob.
        sign_ins, as_bob = await authorize_counting_sign_ins(
            client, auth_params("first", id_token_hint=bob), "bob"
        )
        assert sign_ins == 1
        body = (await exchange(client, answer_of(as_bob)["code"])).json()
        claims = services.oidc.keys.verify(body["id_token"])
        assert claims is not None
        assert claims["preferred_username"] == "bob"


async def test_id_token_hint_of_the_signed_in_user_expired_or_not_is_accepted(
    tmp_path: Path,
) -> None:
    clock = FrozenClock()
    async with oidc_app(tmp_path, clock=clock) as (client, _):
        alice = await id_token_of(client, "alice")
        assert "code" in answer_of(
            await client.get(
                "/oidc/authorize", params=auth_params("first", prompt="none", id_token_hint=alice)
            )
        )
        clock.advance(3700)  # past the ID token's exp, within the session's life
        later = auth_params("first", prompt="none", id_token_hint=alice)
        assert "code" in answer_of(await client.get("/oidc/authorize", params=later))


async def test_an_id_token_hint_this_service_did_not_issue_is_invalid_request(
    tmp_path: Path,
) -> None:
    async with oidc_app(tmp_path) as (client, services):
        alice = await id_token_of(client, "alice")
        claims = services.oidc.keys.verify(alice)
        assert claims is not None
        sub = claims["sub"]
        stranger = RSAKey.generate_key(2048, parameters={"alg": "RS256"})
        foreign = jwt.encode(
            {"alg": "RS256"},
            {"iss": "https://id.example.test", "sub": sub, "aud": "first", "exp": 4_000_000_000},
            stranger,
        )
        other_issuer = services.oidc.keys.sign(
            {"iss": "https://other.example", "sub": sub, "aud": "first"}, "RS256"
        )
        logout_token = services.oidc.backchannel.logout_token(
            services.oidc.clients["first"], sub, None
        )
        for hint in ("not-a-jwt", "a.b.c", foreign, other_issuer, logout_token, "x" * 3000):
            for prompt in ("none", ""):
                params = auth_params("first", prompt=prompt, id_token_hint=hint)
                answer = answer_of(await client.get("/oidc/authorize", params=params))
                assert answer["error"] == "invalid_request", (hint[:20], prompt)
                assert answer["state"] == "st-1"


async def _staff_member(client: httpx.AsyncClient, services: Services) -> int:
    """alice, signed up and signed in, in the group the client "staff" admits."""
    await sign_up(client)
    user = await services.users.by_canon("alice")
    assert user is not None
    await services.users.change_groups(user.id, ["staff"], [])
    return user.id


async def test_a_user_the_client_no_longer_admits_loses_refresh_userinfo_and_introspection(
    tmp_path: Path,
) -> None:
    async with oidc_app(tmp_path) as (client, services):
        user_id = await _staff_member(client, services)
        code = await code_for(client, "staff", scope="openid groups offline_access")
        tokens = (await exchange(client, code, "staff")).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get("/oidc/userinfo", headers=bearer)).status_code == 200
        await services.users.change_groups(user_id, [], ["staff"])
        info = await client.get("/oidc/userinfo", headers=bearer)
        assert info.status_code == 401
        assert info.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in info.headers["www-authenticate"]
        for token in (tokens["access_token"], tokens["refresh_token"]):
            seen = await client.post(
                "/oidc/introspect", data={"token": token}, auth=("staff", SECRET)
            )
            assert seen.json() == {"active": False}
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        refused = await client.post("/oidc/token", data=refresh, auth=("staff", SECRET))
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
        # The family is revoked: back in the group, its tokens stay dead.
        await services.users.change_groups(user_id, ["staff"], [])
        assert (await client.get("/oidc/userinfo", headers=bearer)).status_code == 401
        again = await client.post("/oidc/token", data=refresh, auth=("staff", SECRET))
        assert again.json()["error"] == "invalid_grant"
        await services.audit.flush()
        events = await services.audit.query(AuditQuery(types=("oidc_request_refused",)))
        assert [(e.username, e.details) for e in events] == [
            ("alice", {"client": "staff", "error": "access_denied"})
        ]


async def test_a_code_is_refused_when_the_user_left_the_clients_groups_meanwhile(
    tmp_path: Path,
) -> None:
    async with oidc_app(tmp_path) as (client, services):
        user_id = await _staff_member(client, services)
        code = await code_for(client, "staff")
        await services.users.change_groups(user_id, [], ["staff"])
        refused = await exchange(client, code, "staff")
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"


async def test_a_refresh_of_a_disabled_account_revokes_its_family(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client)
        user = await services.users.by_canon("alice")
        assert user is not None
        code = await code_for(client, "first", scope="openid offline_access")
        tokens = (await exchange(client, code)).json()
        await services.users.set_disabled(user.id, True)
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        refused = await client.post("/oidc/token", data=refresh, auth=("first", SECRET))
        assert refused.json()["error"] == "invalid_grant"
        await services.users.set_disabled(user.id, False)
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get("/oidc/userinfo", headers=bearer)).status_code == 401
        await services.audit.flush()
        events = await services.audit.query(AuditQuery(types=("oidc_request_refused",)))
        assert [e.details for e in events] == [{"client": "first", "error": "account_disabled"}]


@pytest.mark.parametrize(
    "verifier", ["abc", "a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "é"], ids=str
)
async def test_a_malformed_code_verifier_is_refused_even_when_it_matches(
    tmp_path: Path, verifier: str
) -> None:
    """RFC 7636 4.1: 43-128 characters of A-Z a-z 0-9 - . _ ~."""
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        code = await code_for(client, "first", code_challenge=s256(verifier))
        refused = await exchange(client, code, code_verifier=verifier)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "challenge", ["a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "=", "a" * 42 + "é"], ids=str
)
async def test_a_malformed_code_challenge_goes_back_as_invalid_request(
    tmp_path: Path, challenge: str
) -> None:
    async with oidc_app(tmp_path) as (client, _):
        await sign_up(client)
        params = auth_params("first", code_challenge=challenge)
        answer = answer_of(await client.get("/oidc/authorize", params=params))
        assert answer["error"] == "invalid_request"
        assert answer["state"] == "st-1"
        edge = auth_params("first", code_challenge="a" * 128)
        assert "code" in answer_of(await client.get("/oidc/authorize", params=edge))
