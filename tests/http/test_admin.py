"""`/admin` (SPEC section 15): 404 for everyone but admins with the right session, CSRF on every
form, a confirmation before each action, the effect checked over the API, and the audit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio

from signin.accounts.audit import AuditQuery
from signin.accounts.factors import totp
from signin.services import Services
from tests.backends import need_redis
from tests.http.mailflows import PASSWORD, mail_app, other_client, sign_in, sign_up
from tests.support import csrf_of

PAGES = ["/admin", "/admin/users", "/admin/locks", "/admin/sessions", "/admin/audit"]
FORMS: dict[str, dict[str, str]] = {
    "/admin/users/action": {"username": "bob", "action": "disable"},
    "/admin/locks/clear": {"key": "mallory"},
    "/admin/sessions/end": {"username": "bob", "session": "x"},
}


async def make_admin(services: Services, username: str) -> None:
    await services.groups.change(username, add=["admins"])


async def two_factor_session(client: httpx.AsyncClient, services: Services, name: str) -> None:
    """A session made with a second factor, as the TOTP step would leave it."""
    user = await services.users.by_canon(name)
    assert user is not None
    issued = await services.sessions.issue(
        user.id, remember=False, ip=None, user_agent=None, two_factor=True
    )
    client.cookies.set("session", issued.token)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    async with mail_app(tmp_path, None, lock_max_failures=2) as (client, services):
        await sign_up(client, "root")
        await make_admin(services, "root")
        async with other_client(client) as bob_client:
            await sign_up(bob_client, "bob")
        yield client, services


async def post_confirmed(
    client: httpx.AsyncClient, page: str, action: str, fields: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """The action's first POST (a confirmation page) and the confirmed second one."""
    token = csrf_of((await client.get(page)).text)
    first = await client.post(action, data={"csrf_token": token, **fields})
    assert first.status_code == 200, first.text
    assert 'name="confirm" value="1"' in first.text
    second = await client.post(
        action, data={"csrf_token": csrf_of(first.text), **fields, "confirm": "1"}
    )
    return first, second


async def test_everyone_else_gets_404(site: tuple[httpx.AsyncClient, Services]) -> None:
    client, services = site
    async with other_client(client, ip="192.0.2.50") as anonymous:
        for path in PAGES:
            assert (await anonymous.get(path)).status_code == 404
        for path, fields in FORMS.items():
            assert (await anonymous.post(path, data=fields)).status_code == 404
        assert (await sign_in(anonymous, "bob")).status_code == 303  # signed in, not admin
        for path in PAGES:
            assert (await anonymous.get(path)).status_code == 404
        token = csrf_of((await anonymous.get("/account")).text)
        for path, fields in FORMS.items():
            answer = await anonymous.post(
                path, data={"csrf_token": token, **fields, "confirm": "1"}
            )
            assert answer.status_code == 404
    assert not (await services.users.by_canon("bob")).disabled  # type: ignore[union-attr]
    # root's own session was made by a password alone: SIGNIN_ADMIN_REQUIRE_2FA=true says 404.
    for path in PAGES:
        assert (await client.get(path)).status_code == 404


async def test_password_session_is_enough_when_2fa_is_not_required(tmp_path: Path) -> None:
    async with mail_app(tmp_path, None, admin_require_2fa=False) as (client, services):
        await sign_up(client, "root")
        await make_admin(services, "root")
        for path in PAGES:
            page = await client.get(path)
            assert page.status_code == 200, path
            assert page.headers["cache-control"] == "no-store"
            assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_every_admin_form_needs_its_csrf_token(
    site: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = site
    await two_factor_session(client, services, "root")
    for path, fields in FORMS.items():
        answer = await client.post(path, data={**fields, "confirm": "1"})
        assert answer.status_code == 403, path
        forged = await client.post(path, data={**fields, "confirm": "1", "csrf_token": "x" * 40})
        assert forged.status_code == 403, path
    assert not (await services.users.by_canon("bob")).disabled  # type: ignore[union-attr]


async def test_disable_acts_after_confirmation_and_is_audited(
    site: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = site
    await two_factor_session(client, services, "root")
    api_token = (
        await client.post("/api/v1/session", json={"username": "bob", "password": PASSWORD})
    ).json()["token"]
    client.cookies.clear()
    await two_factor_session(client, services, "root")
    users_page = await client.get("/admin/users?q=bo")
    assert users_page.status_code == 200
    assert 'data-user="bob"' in users_page.text
    assert 'data-user="root"' not in users_page.text

    token = csrf_of(users_page.text)
    first = await client.post(
        "/admin/users/action", data={"csrf_token": token, "username": "bob", "action": "disable"}
    )
    assert first.status_code == 200
    assert not (await services.users.by_canon("bob")).disabled  # type: ignore[union-attr]
    done = await client.post(
        "/admin/users/action",
        data={
            "csrf_token": csrf_of(first.text),
            "username": "bob",
            "action": "disable",
            "confirm": "1",
        },
    )
    assert done.status_code == 303
    # The effect, over the API: bob's token is dead and bob cannot sign in.
    bearer = {"Authorization": f"Bearer {api_token}"}
    async with other_client(client, ip="192.0.2.60") as api:
        assert (await api.get("/api/v1/session", headers=bearer)).status_code == 401
        refused = await api.post("/api/v1/session", json={"username": "bob", "password": PASSWORD})
        assert refused.status_code == 401
    (event,) = await services.audit.query(AuditQuery(types=("user_disabled",)))
    assert (event.username, event.details) == ("bob", {"by": "root"})
    assert event.ip == "203.0.113.7"

    _, enabled = await post_confirmed(
        client, "/admin/users", "/admin/users/action", {"username": "bob", "action": "enable"}
    )
    assert enabled.status_code == 303
    async with other_client(client, ip="192.0.2.61") as api:
        again = await api.post("/api/v1/session", json={"username": "bob", "password": PASSWORD})
        assert again.status_code == 201


async def test_groups_reset_link_second_factor_delete(
    site: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = site
    await two_factor_session(client, services, "root")
    _, changed = await post_confirmed(
        client,
        "/admin/users",
        "/admin/users/action",
        {"username": "bob", "action": "groups", "groups": "staff ops"},
    )
    assert changed.status_code == 303
    assert (await services.users.by_canon("bob")).groups == ("ops", "staff")  # type: ignore[union-attr]

    _, link_page = await post_confirmed(
        client, "/admin/users", "/admin/users/action", {"username": "bob", "action": "reset_link"}
    )
    assert link_page.status_code == 200
    link = re.search(r'value="([^"]+/reset-password\?token=[^"]+)"', link_page.text)
    assert link is not None

    two_factor = {"username": "bob", "action": "two_factor_reset"}
    _, nothing = await post_confirmed(client, "/admin/users", "/admin/users/action", two_factor)
    assert nothing.status_code == 409  # bob has no second factor yet: said on the page
    assert "has no second factor" in nothing.text
    bob = await services.users.by_canon("bob")
    assert bob is not None
    await services.two_factor.begin(bob)
    status = await services.two_factor.status(bob)
    assert status.enrolment is not None
    secret = status.enrolment.secret
    await services.two_factor.confirm(bob, totp.code_at(secret, totp.step_at(services.clock())))
    assert await services.two_factor.enabled(bob.id)
    _, removed = await post_confirmed(client, "/admin/users", "/admin/users/action", two_factor)
    assert removed.status_code == 303
    assert not await services.two_factor.enabled(bob.id)

    _, deleted = await post_confirmed(
        client, "/admin/users", "/admin/users/action", {"username": "bob", "action": "delete"}
    )
    assert deleted.status_code == 303
    assert await services.users.by_canon("bob") is None
    kinds = {e.type: e.details for e in await services.audit.query(AuditQuery())}
    assert kinds["user_deleted"] == {"by": "root"}
    assert kinds["password_reset_requested"] == {"link": True, "by": "root"}
    assert kinds["two_factor_disabled"] == {"by": "root"}
    assert kinds["groups_changed"] == {"groups": "ops staff", "by": "root"}


async def test_locks_sessions_audit_and_dashboard(
    site: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = site
    async with other_client(client, ip="192.0.2.70") as attacker:
        for _ in range(3):
            await sign_in(attacker, "mallory", "guess guess guess")
    async with other_client(client, ip="192.0.2.71") as bob_client:
        assert (await sign_in(bob_client, "bob")).status_code == 303
    await two_factor_session(client, services, "root")

    locks = await client.get("/admin/locks")
    assert 'data-lock="mallory"' in locks.text
    _, cleared = await post_confirmed(
        client, "/admin/locks", "/admin/locks/clear", {"key": "mallory"}
    )
    assert cleared.status_code == 303
    assert 'data-lock="mallory"' not in (await client.get("/admin/locks")).text

    sessions = await client.get("/admin/sessions?user=bob")
    ids = re.findall(r'data-session="([^"]+)"', sessions.text)
    assert len(ids) >= 1
    for session_id in ids:
        _, ended = await post_confirmed(
            client,
            "/admin/sessions?user=bob",
            "/admin/sessions/end",
            {"username": "bob", "session": session_id},
        )
        assert ended.status_code == 303
    assert re.findall(r'data-session="', (await client.get("/admin/sessions?user=bob")).text) == []

    audit = await client.get("/admin/audit?user=mallory&type=sign_in_failed")
    assert audit.text.count('<tr data-event="sign_in_failed">') == 2
    assert (await client.get("/admin/audit?since=yesterday")).status_code == 422
    dashboard = await client.get("/admin")
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in dashboard.text
    assert re.search(r'data-total="sign_in">(\d+)<', dashboard.text)
    assert "<script>" not in dashboard.text
    details: dict[str, Any] = {
        e.type: e.details for e in await services.audit.query(AuditQuery(username="mallory"))
    }
    assert details["lock_cleared"] == {"key": "mallory", "by": "root"}


async def drop_keys(url: str) -> None:
    """This test's Redis database holds only what signin wrote (db 7 is ours)."""
    client = redis.asyncio.from_url(url)
    try:
        keys = [key async for key in client.scan_iter("signin:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_sessions_and_disable_with_redis(tmp_path: Path) -> None:
    """Sessions and user facts in Redis: the admin lists and ends them, and a disabled user's
    cached facts go at once."""
    url = need_redis()
    await drop_keys(url)
    async with mail_app(tmp_path, None, redis_url=url) as (client, services):
        await sign_up(client, "root")
        await make_admin(services, "root")
        await two_factor_session(client, services, "root")
        async with other_client(client, ip="192.0.2.80") as bob_client:
            await sign_up(bob_client, "bob")
            assert (await bob_client.get("/api/v1/session")).status_code == 200
            sessions = await client.get("/admin/sessions?user=bob")
            (session_id,) = re.findall(r'data-session="([^"]+)"', sessions.text)
            end = {"username": "bob", "session": session_id}
            page = "/admin/sessions?user=bob"
            _, ended = await post_confirmed(client, page, "/admin/sessions/end", end)
            assert ended.status_code == 303
            assert (await bob_client.get("/api/v1/session")).status_code == 401
            assert (await sign_in(bob_client, "bob")).status_code == 303
            disable = {"username": "bob", "action": "disable"}
            _, done = await post_confirmed(client, "/admin/users", "/admin/users/action", disable)
            assert done.status_code == 303
            assert (await bob_client.get("/api/v1/session")).status_code == 401
    await drop_keys(url)


async def test_audit_says_events_and_details_in_words(
    site: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = site
    await two_factor_session(client, services, "root")
    async with other_client(client, ip="192.0.2.70") as attacker:
        await sign_in(attacker, "bob", "guess guess guess")
    services.audit.record("oidc_request_refused", None, client=None, error="invalid_client")
    services.audit.record("password_reset_requested", "bob", mailed=True)
    await services.audit.flush()
    for language in ("en", "ar"):
        html = (await client.get("/admin/audit", headers={"Accept-Language": language})).text
        assert html.count("<tr data-event=") >= 3
        for code in ("sign_in_failed", "oidc_request_refused", "password_reset_requested"):
            assert f">{code}<" not in html, (language, code)  # neither an option nor a cell
        assert "client=" not in html
        assert "None" not in html
    html = (await client.get("/admin/audit")).text
    assert '<option value="sign_in_failed">Failed sign-in attempt</option>' in html
    assert "<td>Failed sign-in attempt</td>" in html
    assert "sign-in request was refused</td>" in html
    assert '<dt>Error</dt><dd dir="auto">invalid_client</dd>' in html
    assert '<dt>Email sent</dt><dd dir="auto">yes</dd>' in html
    assert "<dt>App</dt>" not in html  # no app was named: the detail is left out


async def test_admin_pages_keep_the_signed_in_header(
    site: tuple[httpx.AsyncClient, Services],
) -> None:
    """A filter left empty, or a refused date, is not taken for the signed-in user."""
    client, services = site
    await two_factor_session(client, services, "root")
    for url, status in (
        ("/admin/audit?since=garbage", 422),
        ("/admin/audit", 200),
        ("/admin/sessions", 200),
    ):
        response = await client.get(url)
        assert response.status_code == status, url
        header = response.text.split("</header>", 1)[0]
        assert 'href="/sign-out"' in header, url
        assert 'href="/sign-in"' not in header, url
