"""The account page: email state and verification, sessions, password change (real SMTP)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http.mailflows import (
    NEW_PASSWORD,
    PASSWORD,
    is_signed_in,
    mail_app,
    other_client,
    sign_in,
    sign_up,
    sign_up_verified,
    verify_from_mail,
)
from tests.http.markup import assert_field_problem, attributes
from tests.mailcatcher import MailCatcher, mail_catcher
from tests.support import csrf_of

SESSION_ROW = re.compile(r'<tr data-session="([^"]+)"( data-current)?>')


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    with mail_catcher() as running:
        yield running


async def post_account(client, path: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    page = await client.get("/account")
    assert page.status_code == 200
    return await client.post(path, data={"csrf_token": csrf_of(page.text), **fields})


async def test_anonymous_account_redirects_to_sign_in(tmp_path: Path) -> None:
    async with mail_app(tmp_path, None) as (client, _):
        response = await client.get("/account")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in?next=/account&sig=")


async def test_sign_up_mail_verifies_and_the_account_page_shows_it(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up(client, "Zoë", "Zoe@Example.com")
        mail = catcher.last()
        assert mail.rcpt_tos == ["Zoe@example.com"]
        assert mail.subject == "Confirm your email address"
        assert mail.link("/verify-email").startswith("https://accounts.example.test/verify-email?")
        page = await client.get("/account")
        assert 'data-email-state="unverified"' in page.text
        assert "Zoe@example.com" in page.text
        token = mail.token("/verify-email")
        opened = await client.get("/verify-email", params={"token": token})
        assert opened.status_code == 303
        assert opened.headers["location"] == "/account"
        assert opened.headers["referrer-policy"] == "no-referrer"
        assert 'data-email-state="verified"' in (await client.get("/account")).text
        reused = await client.get("/verify-email", params={"token": token})
        assert reused.status_code == 400


async def test_verify_link_opened_in_another_browser(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up(client, "zoe", "zoe@example.com")
        token = catcher.last().token("/verify-email")
        async with other_client(client) as phone:
            opened = await phone.get("/verify-email", params={"token": token})
            assert opened.status_code == 200
            assert "zoe@example.com" in opened.text
            assert "confirmed" in opened.text
        assert 'data-email-state="verified"' in (await client.get("/account")).text


async def test_verify_link_of_another_user_is_refused(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up(client, "zoe", "zoe@example.com")
        zoe_token = catcher.last().token("/verify-email")
        async with other_client(client) as max_browser:
            await sign_up(max_browser, "max", "max@example.com")
            refused = await max_browser.get("/verify-email", params={"token": zoe_token})
            assert refused.status_code == 400
        for bad in ("", "garbage", "A" * 43):
            assert (await client.get("/verify-email", params={"token": bad})).status_code == 400
        assert (await client.get("/verify-email", params={"token": zoe_token})).status_code == 303


async def test_resend_verification(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up(client, "zoe", "zoe@example.com")
        assert catcher.count() == 1
        resent = await post_account(client, "/account/verify-email", {})
        assert resent.status_code == 200
        assert "sent a new confirmation link" in resent.text
        assert catcher.wait_for(2)[1].subject == "Confirm your email address"
        # Both links are valid until the address is confirmed; the second one does it.
        await verify_from_mail(client, catcher, "zoe@example.com")
        again = await post_account(client, "/account/verify-email", {})
        assert "no address waiting" in again.text
        assert catcher.count() == 2


async def test_sign_up_survives_a_dead_smtp_server_and_resend_says_retry(tmp_path: Path) -> None:
    from tests.support import free_port

    async with mail_app(tmp_path, None, smtp_url=f"smtp://127.0.0.1:{free_port()}") as (client, _):
        await sign_up(client, "zoe", "zoe@example.com")
        assert await is_signed_in(client)
        page = await client.get("/account")
        assert 'data-email-state="unverified"' in page.text
        resent = await post_account(client, "/account/verify-email", {})
        assert resent.status_code == 503
        assert "could not send the email" in resent.text


async def test_sessions_are_listed_and_ended(tmp_path: Path) -> None:
    async with mail_app(tmp_path, None) as (client, _):
        await sign_up(client, "zoe")
        async with other_client(client) as laptop, other_client(client, "192.0.2.8") as phone:
            assert (await sign_in(laptop, "zoe")).status_code == 303
            assert (await sign_in(phone, "zoe")).status_code == 303
            page = await laptop.get("/account")
            rows = SESSION_ROW.findall(page.text)
            assert len(rows) == 3
            assert [bool(current) for _, current in rows].count(True) == 1
            assert "198.51.100.9" in page.text
            assert "Firefox on Linux" in page.text
            current = next(sid for sid, mark in rows if mark)
            # End one other session by id: exactly that browser is signed out.
            phone_page = await phone.get("/account")
            phone_own = next(sid for sid, mark in SESSION_ROW.findall(phone_page.text) if mark)
            ended = await post_account(laptop, "/account/sessions/end", {"session": phone_own})
            assert ended.status_code == 303
            assert ended.headers["location"] == "/account"
            assert not await is_signed_in(phone)
            assert await is_signed_in(client)
            assert await is_signed_in(laptop)
            # Another user's session id is not ours to end.
            async with other_client(client, "192.0.2.9") as max_browser:
                await sign_up(max_browser, "max")
                max_page = await max_browser.get("/account")
                max_id = SESSION_ROW.findall(max_page.text)[0][0]
                await post_account(laptop, "/account/sessions/end", {"session": max_id})
                assert await is_signed_in(max_browser)
            # End all others.
            others = await post_account(laptop, "/account/sessions/end", {"others": "1"})
            assert others.status_code == 303
            assert not await is_signed_in(client)
            assert await is_signed_in(laptop)
            rows = SESSION_ROW.findall((await laptop.get("/account")).text)
            assert [sid for sid, _ in rows] == [current]


async def test_sessions_end_needs_csrf_and_a_session(tmp_path: Path) -> None:
    async with mail_app(tmp_path, None) as (client, _):
        await sign_up(client, "zoe")
        no_csrf = await client.post("/account/sessions/end", data={"others": "1"})
        assert no_csrf.status_code == 403
        async with other_client(client) as anonymous:
            page = await anonymous.get("/forgot-password")
            response = await anonymous.post(
                "/account/sessions/end", data={"csrf_token": csrf_of(page.text), "others": "1"}
            )
            assert response.status_code == 401


async def test_change_password(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up_verified(client, catcher)
        async with other_client(client) as laptop:
            assert (await sign_in(laptop, "zoe")).status_code == 303
            wrong = await post_account(
                client,
                "/account/password",
                {"current_password": "not my password", "password": NEW_PASSWORD},
            )
            assert wrong.status_code == 401
            assert "current password is not correct" in wrong.text
            refused = await post_account(
                client, "/account/password", {"current_password": PASSWORD, "password": "password1"}
            )
            assert refused.status_code == 422
            assert "too common" in refused.text
            assert_field_problem(refused.text, "password-new", "password", "too common")
            assert "autofocus" in attributes(refused.text, "password-new")
            assert "aria-invalid" not in attributes(refused.text, "password-current")
            assert await is_signed_in(laptop)
            before = catcher.count()
            done = await post_account(
                client,
                "/account/password",
                {"current_password": PASSWORD, "password": NEW_PASSWORD},
            )
            assert done.status_code == 303
            assert done.headers["location"] == "/account"
            assert await is_signed_in(client), "the current session stays"
            assert not await is_signed_in(laptop), "every other session ends"
        notice = catcher.wait_for(before + 1)[-1]
        assert notice.subject == "Your password was changed"
        assert "other sessions were signed out" in notice.text()
        async with other_client(client) as fresh:
            assert (await sign_in(fresh, "zoe", PASSWORD)).status_code == 401
            assert (await sign_in(fresh, "zoe", NEW_PASSWORD)).status_code == 303


async def test_change_password_accepts_prehashes(tmp_path: Path) -> None:
    from signin.crypto.prehash import prehash_v1

    async with mail_app(tmp_path, None) as (client, _):
        await sign_up(client, "Zoë", "")
        done = await post_account(
            client,
            "/account/password",
            {
                "current_password": prehash_v1("Zoë", PASSWORD),
                "password": prehash_v1("Zoë", NEW_PASSWORD),
            },
        )
        assert done.status_code == 303
        async with other_client(client) as fresh:
            assert (await sign_in(fresh, "ZOË", NEW_PASSWORD)).status_code == 303
        refused = await post_account(
            client,
            "/account/password",
            {"current_password": NEW_PASSWORD, "password": prehash_v1("Zoë", "zoë")},
        )
        assert refused.status_code == 422


async def test_wrong_current_passwords_count_against_the_lock(tmp_path: Path) -> None:
    async with mail_app(tmp_path, None) as (client, _):
        await sign_up(client, "zoe")
        statuses = [
            (
                await post_account(
                    client,
                    "/account/password",
                    {"current_password": f"guess number {i}", "password": NEW_PASSWORD},
                )
            ).status_code
            for i in range(4)
        ]
        assert statuses == [401, 401, 401, 429]


async def test_api_sign_up_with_email_sends_the_verification_link(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        created = await client.post(
            "/api/v1/users",
            json={"username": "robot", "password": PASSWORD, "email": "robot@example.com"},
        )
        assert created.status_code == 201
        mail = catcher.last()
        assert mail.rcpt_tos == ["robot@example.com"]
        assert mail.subject == "Confirm your email address"
        without = await client.post(
            "/api/v1/users", json={"username": "quiet", "password": PASSWORD}
        )
        assert without.status_code == 201
        assert catcher.count() == 1
