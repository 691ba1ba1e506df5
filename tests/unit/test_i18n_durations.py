"""Durations in sentences: never rounded up or down, and in a grammatical case the sentence
around them allows in every language (docs/i18n.md, "Numbers and durations in sentences")."""

from __future__ import annotations

from pathlib import Path

import pytest

from signin.accounts.errors import AccountLocked, RateLimited, Seconds
from signin.i18n.catalogs import Catalogs
from signin.mail.letters import TemplateLetters
from signin.mail.transport import OutboxMailer
from signin.stores.base import UserRecord

CATALOGS = Catalogs()


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (45, "45 seconds"),
        (90, "90 seconds"),
        (600, "10 minutes"),
        (3600, "1 hour"),
        (5400, "90 minutes"),
        (2 * 86400, "2 days"),
        (7 * 86400, "1 week"),
        (30 * 86400, "30 days"),
    ],
)
def test_a_duration_is_said_in_the_largest_unit_that_divides_it(seconds: int, said: str) -> None:
    assert CATALOGS.get("en").duration(seconds) == said


def reader(language: str) -> UserRecord:
    return UserRecord(
        1, "jonas", "jonas", "jonas@example.test", True, "", 0.0, 0.0, False, language=language
    )


def letters(tmp_path: Path) -> TemplateLetters:
    mailer = OutboxMailer(tmp_path, sender="signin@example.test")
    return TemplateLetters(mailer, "https://signin.example.test", CATALOGS)


@pytest.mark.parametrize("kind", ["reset", "verify", "unlock"])
@pytest.mark.parametrize(
    ("language", "seconds", "said", "wrong"),
    [
        ("de", 7 * 86400, "(er ist 1 Woche gültig)", "innerhalb von"),
        ("de", 2 * 86400, "(er ist 2 Tage gültig)", "innerhalb von"),
        ("ar", 2 * 86400, "مدة صلاحية الرابط: يومان", "خلال يومان"),
        ("ar", 120, "مدة صلاحية الرابط: دقيقتان", "خلال دقيقتان"),
    ],
)
def test_mail_links_say_how_long_they_are_valid_in_the_nominative(
    tmp_path: Path, kind: str, language: str, seconds: int, said: str, wrong: str
) -> None:
    links = {"link": "https://x.test/l", "forgot": "https://x.test/f"}
    mail = letters(tmp_path).render(kind, reader(language), valid_for=Seconds(seconds), **links)
    for body in (mail.text, mail.html):
        assert said in " ".join(body.split())
        assert wrong not in body


@pytest.mark.parametrize(
    ("language", "seconds", "said"),
    [
        ("de", 2 * 86400, "Wartezeit bis zum nächsten Versuch: 2 Tage."),
        ("ar", 120, "مدة الانتظار قبل المحاولة التالية: دقيقتان."),
    ],
)
def test_try_again_messages_put_the_wait_in_the_nominative(
    language: str, seconds: int, said: str
) -> None:
    speak = CATALOGS.get(language)
    for error in (AccountLocked(seconds), RateLimited(seconds)):
        assert speak.text(error.text, error.params).endswith(said)
