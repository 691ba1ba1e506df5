"""The reader's language: cookie > Accept-Language (q-values) > default (web/locale.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signin.i18n import LANGUAGES
from signin.i18n.catalogs import Catalogs
from signin.web.locale import from_accept_language, negotiate, same_origin_path, supported


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", "de"),
        ("de-CH, en;q=0.8", "de"),
        ("en;q=0.5, ar;q=0.9", "ar"),
        ("fr-CA;q=0.2, ja;q=0.1", "fr"),
        ("pt", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("PT-br", "pt_BR"),
        ("es-419", "es"),
        ("zh-CN", "zh_CN"),
        ("zh-Hans", "zh_CN"),
        ("zh-TW", None),
        ("zh-Hant-HK, en;q=0.1", "en"),
        ("*", None),
        ("tlh, de;q=0", None),  # q=0 means "not this one"
        ("", None),
        ("de;q=abc, ar", "ar"),
        (",,;;,", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def test_equal_quality_keeps_the_header_order() -> None:
    assert from_accept_language("ja, de") == "ja"
    assert from_accept_language("de, ja") == "de"


def test_an_endless_header_is_read_only_so_far() -> None:
    assert from_accept_language("xx, " * 5000 + "de") is None


def test_cookie_then_header_then_default() -> None:
    assert negotiate("ar", "de", "en") == "ar"
    assert negotiate("zz", "de", "en") == "de"
    assert negotiate(None, None, "ja") == "ja"
    assert negotiate("", "tlh", "fr") == "fr"


def test_codes_and_tags_are_both_accepted() -> None:
    assert supported("pt-BR") == supported("pt_br") == "pt_BR"
    assert supported("de") == "de"
    assert supported("x" * 100) is None


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/account", "/account"),
        ("/sign-in?next=%2Fwelcome", "/sign-in?next=%2Fwelcome"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("account", "/"),
        ("/a\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_the_picker_only_returns_to_paths_here(target: str, kept: str) -> None:
    assert same_origin_path(target) == kept


def test_durations_and_dates_are_said_in_the_language() -> None:
    catalogs = Catalogs()
    english, german, arabic = catalogs.get("en"), catalogs.get("de"), catalogs.get("ar")
    assert english.duration(600) == "10 minutes"
    assert english.duration(45) == "45 seconds"
    assert german.duration(600) == "10 Minuten"
    assert german.duration(1) == "1 Sekunde"
    assert arabic.duration(600) == "10 دقائق"
    moment = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
    assert english.datetime(moment) == "May 28, 2026, 8:26:40\u202fPM UTC"
    assert german.datetime(moment) == "28.05.2026, 20:26:40 UTC"
    assert german.datetime(None, "nie") == "nie"
    assert catalogs.get("klingon").language == "en"  # unknown: the default language
    assert catalogs.get("de") is german  # compiled once, then kept
    assert german.gettext("Sign in") == "Anmelden"
    assert arabic.text("Welcome, %(name)s!", {"name": "Zoë"}) == "أهلًا بك يا Zoë!"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600), st.text(max_size=40))
def test_any_header_or_cookie_gives_a_supported_language(header: str, cookie: str) -> None:
    """Client text never breaks negotiation: the answer is always a language signin speaks."""
    assert negotiate(cookie, header, "en") in LANGUAGES
    assert same_origin_path(header).startswith("/")
