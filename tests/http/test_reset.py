"""Forgot / reset password over a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from signin.mail.transport import SmtpMailer, parse_smtp_url
from signin.stores.sql.schema import one_time_tokens
from tests.http.mailflows import (
    NEW_PASSWORD,
    PASSWORD,
    PUBLIC_URL,
    forgot,
    is_signed_in,
    mail_app,
    open_reset_link,
    other_client,
    sign_in,
    sign_up,
    sign_up_verified,
    submit_reset,
    verify_from_mail,
    without_csrf,
)
from tests.http.markup import assert_field_problem
from tests.mailcatcher import MailCatcher, mail_catcher
from tests.support import csrf_of, free_port


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    with mail_catcher() as running:
        yield running


def reset_mails(catcher: MailCatcher, email: str) -> list[str]:
    return [m.token("/reset-password") for m in catcher.to(email) if "Reset" in m.subject]


async def test_forgot_by_username_and_by_email_mails_a_public_url_link(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up_verified(client, catcher, "Zoë")
        for login in ("ZOË", "Zoe@Example.com"):
            page = await forgot(client, login)
            assert page.status_code == 200
            assert "data-reset-sent" in page.text
        mails = [m for m in catcher.to("zoe@example.com") if m.subject == "Reset your password"]
        assert len(mails) == 2
        for mail in mails:
            assert mail.link("/reset-password").startswith(PUBLIC_URL + "/reset-password?token=")
            assert mail.link("/reset-password") in mail.html()


async def test_link_never_comes_from_the_host_header(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up_verified(client, catcher)
        forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
        page = await client.get("/forgot-password", headers=forged)
        response = await client.post(
            "/forgot-password",
            data={"csrf_token": csrf_of(page.text), "login": "zoe"},
            headers=forged,
        )
        assert response.status_code == 200
        mail = catcher.to("zoe@example.com")[-1]
        assert mail.subject == "Reset your password"
        assert "evil.example" not in mail.message.as_string()
        assert mail.link("/reset-password").startswith(PUBLIC_URL + "/")


async def test_unknown_login_and_unverified_address_get_the_same_page_and_no_mail(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up(client, "verified", "v@example.com")
        await verify_from_mail(client, catcher, "v@example.com")
        await sign_up(client, "unverified", "u@example.com")
        await sign_up(client, "noemail")
        before = catcher.count()
        known = await forgot(client, "verified")
        assert catcher.count() == before + 1
        answers = [
            await forgot(client, login)
            for login in (
                "nobody-here",
                "nobody@example.com",
                "unverified",
                "u@example.com",
                "noemail",
            )
        ]
        assert catcher.count() == before + 1, "no mail for unknown or unverified logins"
        for answer in answers:
            assert answer.status_code == known.status_code == 200
            # The same page, byte for byte apart from the CSRF token.
            assert without_csrf(answer.text) == without_csrf(known.text)


async def test_reset_ends_every_session_clears_the_lock_and_does_not_sign_in(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(tmp_path, catcher) as (client, services):
        await sign_up_verified(client, catcher)
        async with other_client(client) as laptop, other_client(client, "192.0.2.5") as stranger:
            assert (await sign_in(laptop, "zoe")).status_code == 303
            for _ in range(3):
                assert (await sign_in(stranger, "zoe", "wrong guess 1")).status_code == 401
            assert (await sign_in(stranger, "zoe")).status_code == 429  # locked
            assert await is_signed_in(client)
            assert await is_signed_in(laptop)

            async with other_client(client, "203.0.113.50") as resetter:
                assert (await forgot(resetter, "zoe")).status_code == 200
                token = reset_mails(catcher, "zoe@example.com")[-1]
                form = await open_reset_link(resetter, token)
                assert form.status_code == 200
                assert form.headers["referrer-policy"] == "no-referrer"
                assert 'data-username="zoe"' in form.text
                done = await submit_reset(resetter, form.text, NEW_PASSWORD)
                assert done.status_code == 303
                assert done.headers["location"] == "/sign-in"
                assert not await is_signed_in(resetter), "a reset must not sign in"

            assert not await is_signed_in(client), "old session cookie still works"
            assert not await is_signed_in(laptop), "old session cookie still works"
            assert await services.session_store.list_all() == []
            assert await services.lock_store.get("zoe", services.clock(), 600) is None
            # The lock is gone and only the new password works.
            assert (await sign_in(stranger, "zoe", PASSWORD)).status_code == 401
            assert (await sign_in(stranger, "zoe", NEW_PASSWORD)).status_code == 303
        changed = [m for m in catcher.to("zoe@example.com") if "changed" in m.subject]
        assert len(changed) == 1
        assert "reset" in changed[0].text()
        assert "203.0.113.50" in changed[0].text()


async def test_reset_link_works_once(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up_verified(client, catcher)
        await forgot(client, "zoe")
        token = reset_mails(catcher, "zoe@example.com")[-1]
        form = await open_reset_link(client, token)
        assert (await submit_reset(client, form.text, NEW_PASSWORD)).status_code == 303
        again = await client.get("/reset-password", params={"token": token})
        assert again.status_code == 400
        assert 'href="/forgot-password"' in again.text
        assert "used already" in again.text
        replay = await submit_reset(client, form.text, "yet another long one 7")
        assert replay.status_code == 400
        assert (await sign_in(client, "zoe", NEW_PASSWORD)).status_code == 303


async def test_refused_password_keeps_the_link_usable(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up_verified(client, catcher)
        await forgot(client, "zoe")
        form = await open_reset_link(client, reset_mails(catcher, "zoe@example.com")[-1])
        for refused in ("short", "password123", "ZOE"):
            response = await submit_reset(client, form.text, refused)
            assert response.status_code == 422, refused
            assert 'name="token"' in response.text
            assert_field_problem(response.text, "password-new", "password", "assword")
        assert (await submit_reset(client, form.text, NEW_PASSWORD)).status_code == 303


async def test_foreign_tokens_are_refused(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up(client, "zoe", "zoe@example.com")
        verify_token = catcher.last().token("/verify-email")
        # A verification token is not a reset token (and stays usable for its own purpose).
        assert (
            await client.get("/reset-password", params={"token": verify_token})
        ).status_code == 400
        await verify_from_mail(client, catcher, "zoe@example.com")
        async with other_client(client) as max_browser:
            await sign_up(max_browser, "max", "max@example.com")
            await verify_from_mail(max_browser, catcher, "max@example.com")
            await forgot(max_browser, "zoe")
            zoe_token = reset_mails(catcher, "zoe@example.com")[-1]
            # Signed in as max, zoe's link is another user's token.
            refused = await max_browser.get("/reset-password", params={"token": zoe_token})
            assert refused.status_code == 400
            assert "another account" in refused.text or "not made for" in refused.text
        # A form shown for zoe cannot be submitted with a password pre-hashed for max.
        async with other_client(client, "192.0.2.77") as anonymous:
            form = await open_reset_link(anonymous, zoe_token)
            mismatch = await submit_reset(anonymous, form.text, NEW_PASSWORD, username="max")
            assert mismatch.status_code == 400
            assert (await sign_in(anonymous, "zoe", PASSWORD)).status_code == 303
            # Refusals did not use the link up.
            form = await open_reset_link(anonymous, zoe_token)
            assert (await submit_reset(anonymous, form.text, NEW_PASSWORD)).status_code == 303


async def test_short_real_expiry(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher, reset_token_seconds=1) as (client, _):
        await sign_up_verified(client, catcher)
        await forgot(client, "zoe")
        token = reset_mails(catcher, "zoe@example.com")[-1]
        await asyncio.sleep(1.2)
        expired = await client.get("/reset-password", params={"token": token})
        assert expired.status_code == 400
        assert "expired" in expired.text


async def test_any_password_change_kills_outstanding_links(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up_verified(client, catcher)
        await forgot(client, "zoe")
        await forgot(client, "zoe")
        first, second = reset_mails(catcher, "zoe@example.com")[-2:]
        page = await client.get("/account")
        changed = await client.post(
            "/account/password",
            data={
                "csrf_token": csrf_of(page.text),
                "current_password": PASSWORD,
                "password": NEW_PASSWORD,
            },
        )
        assert changed.status_code == 303
        for token in (first, second):
            stale = await client.get("/reset-password", params={"token": token})
            assert stale.status_code == 400
            assert "no longer valid" in stale.text


async def test_reset_requests_are_rate_limited(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher, reset_limit_per_account=2, reset_limit_per_ip=6) as (
        client,
        _,
    ):
        await sign_up_verified(client, catcher)
        pages = [await forgot(client, login) for login in ("zoe", "zoe@example.com", "Zoe")]
        assert [page.status_code for page in pages] == [200, 200, 200]
        assert len(reset_mails(catcher, "zoe@example.com")) == 2, "per-account limit"
        assert pages[2].text.count("data-reset-sent") == 1  # same page, no hint
        for _ in range(3):
            assert (await forgot(client, "someone-else")).status_code == 200
        limited = await forgot(client, "zoe")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        async with other_client(client) as elsewhere:
            assert (await forgot(elsewhere, "nobody")).status_code == 200


async def test_smtp_failure_gives_a_retry_message_and_loses_nothing(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(tmp_path, catcher) as (client, services):
        await sign_up_verified(client, catcher)
        await forgot(client, "zoe")
        delivered = reset_mails(catcher, "zoe@example.com")[-1]
        working = services.letters.mailer
        services.letters.mailer = SmtpMailer(
            parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"), sender="s@x.example", timeout=5
        )
        known, unknown = await forgot(client, "zoe"), await forgot(client, "nobody")
        for answer in (known, unknown):
            assert answer.status_code == 503
            assert "could not send the email" in answer.text
            assert "data-reset-sent" not in answer.text
        # The token whose mail failed is kept (an SMTP error does not prove the mail was lost).
        async with services.engine.connect() as conn:
            unused = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(one_time_tokens)
                    .where(
                        one_time_tokens.c.purpose == "reset", one_time_tokens.c.used_at.is_(None)
                    )
                )
            ).scalar_one()
        assert unused == 2
        services.letters.mailer = working
        form = await open_reset_link(client, delivered)
        assert (await submit_reset(client, form.text, NEW_PASSWORD)).status_code == 303


async def test_without_smtp_mails_land_in_the_outbox(tmp_path: Path) -> None:
    async with mail_app(tmp_path, None) as (client, _):
        await sign_up(client, "zoe", "zoe@example.com")
        outbox = tmp_path / "data" / "outbox"
        files = sorted(outbox.glob("*.eml"))
        assert len(files) == 1
        text = files[0].read_text()
        link = next(
            line
            for line in text.splitlines()
            if line.startswith(PUBLIC_URL + "/verify-email?token=")
        )
        response = await client.get(link.removeprefix(PUBLIC_URL))
        assert response.status_code == 303
        assert 'data-email-state="verified"' in (await client.get("/account")).text
        assert (await forgot(client, "zoe")).status_code == 200
        assert len(list(outbox.glob("*.eml"))) == 2


async def test_sign_in_attempts_cannot_exhaust_the_reset_limits(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(
        tmp_path, catcher, reset_limit_per_account=1, reset_limit_per_ip=1, lock_max_failures=50
    ) as (client, services):
        await sign_up_verified(client, catcher)
        user = await services.users.by_canon("zoe")
        assert user is not None
        for name in (f"RESET:user:{user.id}", "RESET:ip:203.0.113.7", "reset:ip:203.0.113.7"):
            for _ in range(3):
                assert (await sign_in(client, name, "wrong password 1")).status_code == 401
        assert (await forgot(client, "zoe")).status_code == 200
        assert len(reset_mails(catcher, "zoe@example.com")) == 1


async def test_basic_form_without_javascript(tmp_path: Path, catcher: MailCatcher) -> None:
    async with mail_app(tmp_path, catcher) as (client, _):
        await sign_up_verified(client, catcher)
        await forgot(client, "zoe")
        token = reset_mails(catcher, "zoe@example.com")[-1]
        first = await client.get("/reset-password", params={"token": token, "basic": "1"})
        assert first.status_code == 303
        assert first.headers["location"] == "/reset-password?basic=1"
        form = await client.get(first.headers["location"])
        assert 'type="password" id="password-new" name="password"' in form.text
        assert "data-prehash" not in form.text
        assert (await submit_reset(client, form.text, NEW_PASSWORD)).status_code == 303


async def test_an_empty_login_is_tied_to_its_input_and_announced(tmp_path: Path) -> None:
    async with mail_app(tmp_path, None) as (client, _):
        response = await forgot(client, "")
        assert response.status_code == 422
        assert_field_problem(response.text, "login", "login", "Enter your username or email")
