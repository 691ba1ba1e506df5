"""Pages, form errors, problem+json and mails in the reader's language (docs/i18n.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from signin.settings import Settings
from tests.http.mailflows import mail_app, sign_up_verified
from tests.mailcatcher import MailCatcher, mail_catcher
from tests.support import csrf_of, form_post, make_settings, running_app

PASSWORD = "correct horse battery"


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    with mail_catcher() as running:
        yield running


def stored_language(settings: Settings, username: str) -> str | None:
    engine = sa.create_engine(f"sqlite:///{settings.data_dir / 'signin.db'}")
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT language FROM users WHERE username_canon = :name")
            value = conn.execute(query, {"name": username}).scalar_one()
            return None if value is None else str(value)
    finally:
        engine.dispose()


async def pick(
    client: httpx.AsyncClient, lang: str, back: str = "/sign-in", page_path: str = "/sign-in"
) -> httpx.Response:
    page = await client.get(page_path)
    return await client.post(
        "/language", data={"csrf_token": csrf_of(page.text), "lang": lang, "back": back}
    )


async def test_accept_language_picks_the_page_language(client: httpx.AsyncClient) -> None:
    german = await client.get("/sign-in", headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert german.status_code == 200
    assert '<html lang="de" dir="ltr">' in german.text
    assert "<h1>Anmelden</h1>" in german.text
    assert german.headers["content-language"] == "de"
    assert german.headers["vary"] == "Accept-Language, Cookie"
    arabic = await client.get("/sign-in", headers={"Accept-Language": "ar-EG"})
    assert '<html lang="ar" dir="rtl">' in arabic.text
    assert "<h1>تسجيل الدخول</h1>" in arabic.text


async def test_q_values_order_and_unsupported_languages(client: httpx.AsyncClient) -> None:
    ranked = await client.get("/sign-in", headers={"Accept-Language": "de;q=0.4, ar;q=0.8"})
    assert 'lang="ar"' in ranked.text
    unknown = await client.get("/sign-in", headers={"Accept-Language": "tlh, sw;q=0.5"})
    assert 'lang="en"' in unknown.text  # nothing supported: the default
    assert "<h1>Sign in</h1>" in unknown.text
    garbage = await client.get("/sign-in", headers={"Accept-Language": "de;q=x,;;,=,q=2"})
    assert garbage.status_code == 200
    traditional = await client.get("/sign-in", headers={"Accept-Language": "zh-TW, ja;q=0.1"})
    assert 'lang="ja"' in traditional.text  # zh-TW is not Simplified Chinese
    simplified = await client.get("/sign-in", headers={"Accept-Language": "zh-Hans-CN"})
    assert 'lang="zh-CN"' in simplified.text


async def test_the_cookie_beats_the_header(client: httpx.AsyncClient) -> None:
    chosen = await pick(client, "ar")
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/sign-in"
    cookie = chosen.headers["set-cookie"]
    assert cookie.startswith("lang=ar;")
    for attribute in ("HttpOnly", "Path=/", "SameSite=Lax", "Max-Age=31536000"):
        assert attribute in cookie
    page = await client.get("/sign-in", headers={"Accept-Language": "de"})
    assert 'lang="ar" dir="rtl"' in page.text
    client.cookies.set("lang", "xx")  # a forged or stale value: ignored
    page = await client.get("/sign-in", headers={"Accept-Language": "de"})
    assert 'lang="de"' in page.text


async def test_picker_refuses_foreign_targets_and_languages(client: httpx.AsyncClient) -> None:
    for back in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "welcome"):
        answer = await pick(client, "de", back=back)
        assert answer.headers["location"] == "/", back
    page = await client.get("/sign-in")
    tampered = await client.post(
        "/language", data={"csrf_token": csrf_of(page.text), "lang": "xx", "back": "/sign-up"}
    )
    assert tampered.status_code == 303
    assert "set-cookie" not in tampered.headers
    without_token = await client.post("/language", data={"lang": "de", "back": "/"})
    assert without_token.status_code == 403


async def test_default_language_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", default_language="pt-BR")
    assert settings.default_language == "pt_BR"
    async with running_app(settings) as client:
        page = await client.get("/sign-in")
        assert '<html lang="pt-BR" dir="ltr">' in page.text
        english = await client.get("/sign-in", headers={"Accept-Language": "en-GB"})
        assert 'lang="en"' in english.text


async def test_form_errors_are_translated(client: httpx.AsyncClient) -> None:
    client.headers["Accept-Language"] = "de"
    short = await form_post(client, "/sign-up", {"username": "a", "password": "kurz"})
    assert short.status_code == 422
    assert "Der Benutzername muss 3 bis 32 Zeichen lang sein." in short.text
    assert "Das Passwort muss mindestens 8 Zeichen lang sein." in short.text
    wrong = await form_post(client, "/sign-in", {"username": "nobody", "password": "x" * 12})
    assert wrong.status_code == 401
    assert "Benutzername oder Passwort ist falsch." in wrong.text


async def test_locked_message_says_the_wait_in_the_language(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", lock_max_failures=1, lock_seconds=600)
    async with running_app(settings) as client:
        client.headers["Accept-Language"] = "de"
        for _ in range(2):
            answer = await form_post(client, "/sign-in", {"username": "bob", "password": "x" * 9})
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "600"
        assert "Wartezeit bis zum nächsten Versuch: 10 Minuten." in answer.text
        client.headers["Accept-Language"] = "ar"
        arabic = await form_post(client, "/sign-in", {"username": "bob", "password": "x" * 9})
        assert "مدة الانتظار قبل المحاولة التالية: 10 دقائق." in arabic.text


async def test_problem_json_translates_title_and_detail_not_type(
    client: httpx.AsyncClient,
) -> None:
    body = {"username": "bob", "password": "wrong password!"}
    english = await client.post("/api/v1/session", json=body)
    german = await client.post("/api/v1/session", json=body, headers={"Accept-Language": "de"})
    assert english.status_code == german.status_code == 401
    assert german.headers["content-type"] == "application/problem+json"
    assert german.headers["content-language"] == "de"
    en, de = english.json(), german.json()
    assert de["type"] == en["type"] == "https://signin.invalid/problems/invalid_credentials"
    assert (en["title"], en["detail"]) == ("Unauthorized", "Wrong username or password.")
    assert (de["title"], de["detail"]) == (
        "Nicht angemeldet",
        "Benutzername oder Passwort ist falsch.",
    )
    invalid = await client.post(
        "/api/v1/users", json={"username": "x", "password": "p"}, headers={"Accept-Language": "ar"}
    )
    assert invalid.status_code == 422
    problem = invalid.json()
    assert problem["type"] == "https://signin.invalid/problems/invalid_input"
    assert {e["code"] for e in problem["errors"]} >= {"username_length", "password_too_short"}
    assert any("اسم المستخدم" in e["detail"] for e in problem["errors"])


async def test_language_is_stored_at_sign_up_sign_in_and_by_the_picker(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    client.headers["Accept-Language"] = "de"
    made = await form_post(client, "/sign-up", {"username": "lena", "password": PASSWORD})
    assert made.status_code == 303
    assert stored_language(settings, "lena") == "de"
    await pick(
        client, "ar", back="/account", page_path="/account"
    )  # signed in: the account follows the picker
    assert stored_language(settings, "lena") == "ar"
    await client.post(
        "/sign-out", data={"csrf_token": csrf_of((await client.get("/sign-out")).text)}
    )
    client.cookies.clear()
    client.headers["Accept-Language"] = "fr-CA"
    again = await form_post(client, "/sign-in", {"username": "lena", "password": PASSWORD})
    assert again.status_code == 303
    assert stored_language(settings, "lena") == "fr"


async def test_reset_mail_comes_in_the_language_last_used(
    tmp_path: Path, catcher: MailCatcher
) -> None:
    async with mail_app(tmp_path, catcher, reset_token_seconds=1800) as (client, _):
        await sign_up_verified(client, catcher, "jonas", "jonas@example.com")
        client.cookies.clear()  # signed out; the last page language (English) is stored
        client.headers["Accept-Language"] = "de-DE"
        signed_in = await form_post(client, "/sign-in", {"username": "jonas", "password": PASSWORD})
        assert signed_in.status_code == 303
        # Asked for from an English browser: the mail follows the account, not the request.
        other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
        async with other:
            asked = await form_post(other, "/forgot-password", {"login": "jonas"})
            assert asked.status_code == 200
            assert "we have sent a link" in asked.text
        mails = [m for m in catcher.wait_for(2) if "jonas@example.com" in m.rcpt_tos]
        mail = mails[-1]
        assert mail.subject == "Setzen Sie Ihr Passwort zurück"
        assert mail.message["Content-Language"] == "de"
        text = mail.text()
        assert text.startswith("Hallo jonas,")
        assert "(er ist 30 Minuten gültig)" in text
        assert "Diese Nachricht wurde automatisch von" in text
        html = mail.html()
        assert '<html lang="de" dir="ltr">' in html
        assert "Neues Passwort wählen" in html
        assert mail.token("/reset-password")  # the link is there, once


async def test_api_sign_up_stores_a_named_language_only(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    body = {"password": PASSWORD}
    named = await client.post(
        "/api/v1/users", json={"username": "ana", **body}, headers={"Accept-Language": "pt-BR"}
    )
    plain = await client.post("/api/v1/users", json={"username": "bea", **body})
    assert named.status_code == plain.status_code == 201
    assert stored_language(settings, "ana") == "pt_BR"
    assert stored_language(settings, "bea") is None  # mails then use SIGNIN_DEFAULT_LANGUAGE


@pytest.mark.parametrize(
    ("minimum", "arabic", "english"),
    [
        (8, "يجب ألا تقل كلمة المرور عن 8 أحرف.", "Password must be at least 8 characters."),
        (12, "يجب ألا تقل كلمة المرور عن 12 حرفًا.", "Password must be at least 12 characters."),
        (2, "يجب ألا تقل كلمة المرور عن حرفين.", "Password must be at least 2 characters."),
        (100, "يجب ألا تقل كلمة المرور عن 100 حرف.", "Password must be at least 100 characters."),
    ],
)
async def test_password_minimum_takes_the_plural_form_of_its_number(
    tmp_path: Path, minimum: int, arabic: str, english: str
) -> None:
    settings = make_settings(tmp_path / "data", password_min_length=minimum)
    async with running_app(settings) as client:
        client.headers["Accept-Language"] = "ar"
        page = await form_post(client, "/sign-up", {"username": "alice", "password": "x"})
        assert page.status_code == 422
        assert arabic in page.text
        block = page.text.split('id="signin-messages">')[1].split("</script>")[0]
        assert json.loads(block)["too_short"] % {"min": minimum} == arabic  # the script's copy
        api = await client.post(
            "/api/v1/users",
            json={"username": "alice", "password": "x" * (minimum - 1)},
            headers={"Accept-Language": "en"},
        )
        short = [e for e in api.json()["errors"] if e["code"] == "password_too_short"]
        assert short[0]["detail"] == english


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_a_body_over_64_kib_gets_the_translated_error_page(
    client: httpx.AsyncClient, chunked: bool
) -> None:
    client.headers["Accept-Language"] = "de"
    body = b"username=a&password=" + b"x" * 70_000

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    page = await client.post(
        "/sign-in",
        content=pieces() if chunked else body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413
    assert '<html lang="de" dir="ltr">' in page.text
    assert "Der Inhalt der Anfrage ist größer als 64 KiB." in page.text
    assert "Sprache ändern" in page.text  # the site's layout, with its footer
    assert "too large" not in page.text
    api = await client.post(
        "/api/v1/users", content=body, headers={"content-type": "application/json"}
    )
    assert api.status_code == 413
    assert api.json()["detail"] == "Der Inhalt der Anfrage ist größer als 64 KiB."


async def test_a_form_the_server_cannot_parse_gets_a_translated_page(
    client: httpx.AsyncClient,
) -> None:
    page = await client.post(
        "/sign-in",
        content=b"--x\r\n",
        headers={"content-type": "multipart/form-data", "Accept-Language": "de"},
    )
    assert page.status_code == 400
    assert '<html lang="de" dir="ltr">' in page.text
    assert "Die Anfrage konnte nicht gelesen werden." in page.text
    assert "multipart" not in page.text


@pytest.mark.parametrize(
    ("minimum", "hint"), [(8, "8 أحرف على الأقل."), (12, "12 حرفًا على الأقل.")]
)
async def test_password_hints_take_the_plural_form_of_the_minimum(
    tmp_path: Path, minimum: int, hint: str
) -> None:
    settings = make_settings(tmp_path / "data", password_min_length=minimum)
    async with running_app(settings) as client:
        page = await client.get("/sign-up", headers={"Accept-Language": "ar"})
        assert hint in page.text
