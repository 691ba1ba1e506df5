"""OpenID Connect on the account and admin pages: apps with access (revocable), tokens ended
with the user's sessions or when the account is disabled, clients listed on /admin, and the
audit events and metrics of the provider."""

from __future__ import annotations

from pathlib import Path

from signin.accounts.audit import AuditQuery
from tests.http.oidcflows import (
    SECRET,
    answer_of,
    auth_params,
    code_for,
    consent_answer,
    exchange,
    oidc_app,
    pkce,
    sign_up,
)
from tests.http.test_admin import make_admin, two_factor_session
from tests.support import csrf_of


async def bearer_ok(client, token: str) -> bool:  # type: ignore[no-untyped-def]
    response = await client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {token}"})
    return bool(response.status_code == 200)


async def test_apps_with_access_lists_and_revokes(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client)
        verifier, challenge = pkce()
        page = await client.get(
            "/oidc/authorize", params=auth_params("app", code_challenge=challenge)
        )
        code = answer_of(await consent_answer(client, page.text, "allow"))["code"]
        token = (await exchange(client, code, "app", code_verifier=verifier)).json()["access_token"]
        account = await client.get("/account")
        assert 'data-app="app"' in account.text
        assert "The App" in account.text
        revoked = await client.post(
            "/account/apps/revoke", data={"csrf_token": csrf_of(account.text), "client": "app"}
        )
        assert revoked.status_code == 303
        assert not await bearer_ok(client, token)
        assert 'data-app="app"' not in (await client.get("/account")).text
        # The consent went too: the next request asks again.
        again = await client.get(
            "/oidc/authorize", params=auth_params("app", code_challenge=challenge)
        )
        assert again.status_code == 200
        assert 'value="allow"' in again.text
        no_csrf = await client.post("/account/apps/revoke", data={"client": "app"})
        assert no_csrf.status_code == 403
        await services.audit.flush()
        types = [event.type for event in await services.audit.query(AuditQuery(limit=100))]
        assert "oidc_consent_revoked" in types


async def test_ending_every_session_or_disabling_revokes_tokens(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client)
        body = (
            await exchange(client, await code_for(client, scope="openid offline_access"))
        ).json()
        assert await bearer_ok(client, body["access_token"])
        user = await services.users.by_canon("alice")
        assert user is not None
        await services.sessions.end_all(user.id)  # sign-out everywhere, password change, reset
        assert not await bearer_ok(client, body["access_token"])
        refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        refused = await client.post("/oidc/token", data=refresh, auth=("first", SECRET))
        assert refused.json()["error"] == "invalid_grant"


async def test_disabled_account_gets_no_tokens(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client)
        code = await code_for(client)
        await services.registration.set_disabled("alice", True)
        refused = await exchange(client, code)
        assert refused.status_code == 400
        assert "access_token" not in refused.json()


async def test_admin_lists_clients_and_metrics_count_tokens(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        await sign_up(client, "root")
        await make_admin(services, "root")
        await two_factor_session(client, services, "root")
        page = await client.get("/admin/apps")
        assert page.status_code == 200
        for client_id in ("app", "spa", "first", "staff", "secure"):
            assert f'data-client="{client_id}"' in page.text
        assert SECRET not in page.text
        assert "sha256:" not in page.text
        await exchange(client, await code_for(client))
        metrics = services.metrics.render([]).decode()
        assert 'signin_oidc_tokens_total{grant="authorization_code"} 1.0' in metrics
        await services.audit.flush()
        issued = await services.audit.query(AuditQuery(types=("oidc_token_issued",)))
        assert issued[0].username == "root"
        assert issued[0].details == {"client": "first", "grant": "authorization_code"}
        client.cookies.clear()
        assert (await client.get("/admin/apps")).status_code == 404
