"""SPEC 13 over HTTP, pages: enrolment, the second sign-in step, wrong, replayed and recovery
codes, the fail lock, step-up of a password-only session, disabling, mails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http.mailflows import other_client
from tests.http.twofactorflows import (
    CODE_RE,
    PASSWORD,
    App,
    cookie_header,
    enrol,
    password_step,
    second_step,
    sign_up,
    signed_up_and_enrolled,
    strength,
    two_factor_app,
)
from tests.mailcatcher import MailCatcher, mail_catcher
from tests.support import csrf_of


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    with mail_catcher() as running:
        yield running


async def test_page_sign_in_needs_the_code_and_keeps_next_and_remember(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, _ = await signed_up_and_enrolled(app)
        query = app.services.redirects.query("/account")
        page = await app.client.get(f"/sign-in?{query}")
        fields = {
            "csrf_token": csrf_of(page.text),
            "username": "alice",
            "password": PASSWORD,
            "remember": "1",
            **dict(re.findall(r'name="(next|sig)" value="([^"]+)"', page.text)),
        }
        first = await app.client.post("/sign-in", data=fields)
        assert first.status_code == 303
        assert first.headers["location"] == "/sign-in/two-factor"
        assert cookie_header(first, "session") is None  # never a session before the code
        pending = cookie_header(first, "two_factor")
        assert pending is not None
        assert "HttpOnly" in pending
        assert "Max-Age=300" in pending
        assert await strength(app) is None
        assert (await app.client.get("/welcome")).status_code == 303
        done = await second_step(app, app.code(secret))
        assert done.status_code == 303
        assert done.headers["location"] == "/account"
        session = cookie_header(done, "session")
        assert session is not None
        assert f"Max-Age={app.services.settings.remember_seconds}" in session
        assert await strength(app) is True


async def test_wrong_replayed_and_recovery_codes_on_pages(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, codes = await signed_up_and_enrolled(app)
        await password_step(app)
        wrong = await second_step(app, "000000" if app.code(secret) != "000000" else "111111")
        assert wrong.status_code == 401
        assert 'role="alert"' in wrong.text
        assert "not right" in wrong.text
        used = app.code(secret)
        assert (await second_step(app, used)).status_code == 303
        app.client.cookies.clear()
        await password_step(app)
        replayed = await second_step(app, used)
        assert replayed.status_code == 401
        recovered = await second_step(app, codes[0])
        assert recovered.status_code == 303
        assert await strength(app) is True
        app.client.cookies.clear()
        await password_step(app)
        assert (await second_step(app, codes[0])).status_code == 401  # used once


async def test_wrong_codes_lock_the_username(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path, lock_max_failures=2) as app:
        secret, _ = await signed_up_and_enrolled(app)
        await password_step(app)
        for _ in range(2):
            assert (await second_step(app, "12345x")).status_code == 401
        locked = await second_step(app, app.code(secret))
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
        # The password again does not buy new guesses.
        assert (await password_step(app)).status_code == 429


async def test_the_second_step_needs_csrf_and_a_pending_step(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, _ = await signed_up_and_enrolled(app)
        anonymous = await app.client.get("/sign-in/two-factor")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/sign-in")
        await password_step(app)
        refused = await app.client.post("/sign-in/two-factor", data={"code": app.code(secret)})
        assert refused.status_code == 403
        forged = await app.client.get("/sign-in")  # a CSRF token for this browser
        app.client.cookies.set("two_factor", "forged")
        expired = await app.client.post(
            "/sign-in/two-factor",
            data={"csrf_token": csrf_of(forged.text), "code": app.code(secret)},
        )
        assert expired.status_code == 401
        assert "Sign in again" in expired.text


async def test_pending_step_expires_after_five_minutes(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, _ = await signed_up_and_enrolled(app)
        await password_step(app)
        page = await app.client.get("/sign-in/two-factor")
        app.clock.advance(301)
        late = await app.client.post(
            "/sign-in/two-factor", data={"csrf_token": csrf_of(page.text), "code": app.code(secret)}
        )
        assert late.status_code == 401
        assert await strength(app) is None


async def test_step_up_of_a_password_only_session(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        await sign_up(app)
        await password_step(app)
        secret, _ = await enrol(app)
        weak = app.client.cookies.get("session")
        assert await strength(app) is False  # made by the password before the factor existed
        query = app.services.redirects.query("/account")
        page = await app.client.get(f"/sign-in/two-factor?{query}")
        assert page.status_code == 200
        assert "needs a second factor" in page.text
        fields = dict(re.findall(r'name="(csrf_token|next|sig)" value="([^"]+)"', page.text))
        done = await app.client.post(
            "/sign-in/two-factor", data={**fields, "code": app.code(secret)}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/account"
        assert await strength(app) is True
        old = await app.client.get("/api/v1/session", headers={"Authorization": f"Bearer {weak}"})
        assert old.status_code == 401  # the password-only session was ended
        strong = await app.client.get(f"/sign-in/two-factor?{query}")
        assert strong.status_code == 303  # nothing to step up
        assert strong.headers["location"] == "/account"


async def test_step_up_without_a_factor_says_how_to_get_one(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        await sign_up(app)
        await password_step(app)
        page = await app.client.get("/sign-in/two-factor")
        assert page.status_code == 200
        assert 'href="/account/two-factor"' in page.text


async def test_disable_and_new_codes_on_the_page(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        await sign_up(app)
        await password_step(app)
        secret, codes = await enrol(app)
        page = await app.client.get("/account/two-factor")
        token = csrf_of(page.text)
        wrong = await app.client.post(
            "/account/two-factor/recovery-codes",
            data={"csrf_token": token, "current_password": "not it at all"},
        )
        assert wrong.status_code == 401
        renewed = await app.client.post(
            "/account/two-factor/recovery-codes",
            data={"csrf_token": token, "current_password": PASSWORD},
        )
        assert renewed.status_code == 200
        fresh = CODE_RE.findall(renewed.text)
        assert len(fresh) == 10
        assert set(fresh).isdisjoint(codes)
        off = await app.client.post(
            "/account/two-factor/disable", data={"csrf_token": token, "code": app.code(secret)}
        )
        assert off.status_code == 303
        assert 'data-two-factor-state="off"' in (await app.client.get("/account/two-factor")).text
        no_csrf = await app.client.post("/account/two-factor/begin")
        assert no_csrf.status_code == 403
        app.client.cookies.clear()
        assert (await password_step(app)).headers["location"] == "/welcome"


async def sign_up_with_email(app: App, catcher: MailCatcher) -> None:
    created = await app.client.post(
        "/api/v1/users",
        json={"username": "alice", "password": PASSWORD, "email": "alice@example.com"},
    )
    assert created.status_code == 201
    catcher.wait_for(1)  # the verification link


async def test_mails_on_and_off_to_a_verified_address(tmp_path: Path, catcher: MailCatcher) -> None:
    async with two_factor_app(tmp_path, smtp_url=catcher.url) as app:
        await sign_up_with_email(app, catcher)
        user = await app.services.users.by_canon("alice")
        assert user is not None
        assert await app.services.users.set_email_verified(
            user.id, "alice@example.com", app.clock()
        )
        await password_step(app)
        secret, _ = await enrol(app)
        on = catcher.wait_for(2)[-1]
        assert on.rcpt_tos == ["alice@example.com"]
        assert on.subject == "Two-factor sign-in was turned on"
        assert secret not in on.text()
        await app.services.two_factor.reset_by_name("ALICE")
        off = catcher.wait_for(3)[-1]
        assert off.subject == "Two-factor sign-in was turned off"


async def test_unverified_addresses_get_no_mail(tmp_path: Path, catcher: MailCatcher) -> None:
    async with two_factor_app(tmp_path, smtp_url=catcher.url) as app:
        await sign_up_with_email(app, catcher)
        await password_step(app)
        await enrol(app)  # the mail would have been sent before the confirm page answered
        assert catcher.count() == 1


async def test_other_browsers_cannot_use_a_pending_cookie_without_it(tmp_path: Path) -> None:
    async with two_factor_app(tmp_path) as app:
        secret, _ = await signed_up_and_enrolled(app)
        await password_step(app)
        async with other_client(app.client) as stranger:
            page = await stranger.get("/sign-in/two-factor")
            assert page.status_code == 303  # no pending step in this browser
            assert await strength(app) is None
        assert (await second_step(app, app.code(secret))).status_code == 303
