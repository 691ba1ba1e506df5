"""mail.py against a real SMTP server on loopback: plain, smtps, STARTTLS + AUTH, outbox."""

from __future__ import annotations

import email
import email.policy
import stat
from pathlib import Path

import pytest

from signin.mail.transport import (
    Mail,
    MailError,
    OutboxMailer,
    SmtpMailer,
    build_mailer,
    parse_smtp_url,
)
from tests.mailcatcher import (
    client_context,
    mail_catcher,
    self_signed_cert,
    server_context,
)
from tests.support import free_port

MAIL = Mail(to="zoe@example.com", subject="Hello", text="text body https://x/y\n", html="<p>hi</p>")


def test_parse_smtp_url_forms() -> None:
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "mail.example.com",
        25,
        False,
        False,
    )
    starttls = parse_smtp_url("smtp://u%40x:p%3Aw@mail.example.com?starttls=1")
    assert (starttls.port, starttls.starttls, starttls.username, starttls.password) == (
        587,
        True,
        "u@x",
        "p:w",
    )
    assert parse_smtp_url("smtps://mail.example.com").port == 465
    assert parse_smtp_url("smtps://h:2465").port == 2465
    assert "p:w" not in repr(starttls)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://h", "must look like"),
        ("smtp://h?tls=1", "unknown option"),
        ("smtp://h?starttls=maybe", "starttls must be"),
        ("smtps://h?starttls=1", "TLS already"),
        ("smtp://h:70000", "port"),
    ],
)
def test_parse_smtp_url_refuses(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_smtp_url(url)


async def test_plain_smtp_delivers_text_and_html() -> None:
    with mail_catcher() as catcher:
        mailer = build_mailer(
            catcher.url, data_dir=Path("/nonexistent"), sender="signin@example.org", timeout=5
        )
        await mailer.send(MAIL)
        got = catcher.last()
    assert got.rcpt_tos == ["zoe@example.com"]
    assert got.mail_from == "signin@example.org"
    assert got.subject == "Hello"
    assert got.message["Auto-Submitted"] == "auto-generated"
    assert "text body" in got.text()
    assert "<p>hi</p>" in got.html()


async def test_closed_port_raises_mail_error_quickly() -> None:
    mailer = SmtpMailer(
        parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"), sender="s@example.org", timeout=5
    )
    with pytest.raises(MailError, match=r"SMTP 127\.0\.0\.1"):
        await mailer.send(MAIL)
    with pytest.raises(MailError):
        await mailer.probe()


async def test_smtps_verifies_the_certificate(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with mail_catcher(implicit_tls=server_context(cert, key)) as catcher:
        assert catcher.url.startswith("smtps://")
        trusted = SmtpMailer(
            parse_smtp_url(catcher.url),
            sender="s@example.org",
            timeout=5,
            tls_context=client_context(cert),
        )
        await trusted.send(MAIL)
        assert catcher.wait_for(1)[0].subject == "Hello"
        # The system trust store does not know this certificate: refused, nothing sent.
        untrusted = SmtpMailer(parse_smtp_url(catcher.url), sender="s@example.org", timeout=5)
        with pytest.raises(MailError):
            await untrusted.send(MAIL)
        assert catcher.count() == 1


async def test_starttls_with_credentials(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with mail_catcher(
        starttls=server_context(cert, key), credentials=("mailer", "s3cret pw")
    ) as catcher:
        base = f"127.0.0.1:{catcher.port}?starttls=1"
        good = SmtpMailer(
            parse_smtp_url(f"smtp://mailer:s3cret%20pw@{base}"),
            sender="s@example.org",
            timeout=5,
            tls_context=client_context(cert),
        )
        await good.send(MAIL)
        await good.probe()
        assert catcher.wait_for(1)[0].rcpt_tos == ["zoe@example.com"]
        bad = SmtpMailer(
            parse_smtp_url(f"smtp://mailer:wrong@{base}"),
            sender="s@example.org",
            # aiosmtpd answers 535, then leaves aiosmtplib's next mechanism waiting: bound it.
            timeout=1,
            tls_context=client_context(cert),
        )
        with pytest.raises(MailError) as caught:
            await bad.send(MAIL)
        assert "wrong" not in str(caught.value)
        assert catcher.count() == 1


async def test_without_smtp_url_mail_goes_to_the_outbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = build_mailer(None, data_dir=tmp_path, sender="s@example.org", timeout=5)
    assert isinstance(mailer, OutboxMailer)
    secret_link = "https://signin.example/reset-password?token=SECRET-TOKEN"
    with caplog.at_level("INFO", logger="signin.mail"):
        await mailer.send(
            Mail(
                to="zoe@example.com",
                subject="Reset your password",
                text=f"open {secret_link}\n",
                html=f"<a href='{secret_link}'>x</a>",
            )
        )
        await mailer.probe()
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "zoe@example.com"
    assert secret_link in files[0].read_text()
    assert "Reset your password" in caplog.text
    assert "zoe@example.com" in caplog.text
    assert "SECRET-TOKEN" not in caplog.text


def test_bad_smtp_url_is_one_settings_line_naming_the_variable() -> None:
    from signin.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, smtp_url="smtp://mail.example.com?tls=1")
    assert str(caught.value) == ("SIGNIN_SMTP_URL: unknown option 'tls' (only starttls=1 is known)")
    assert load_settings(_env_file=None, smtp_url="").smtp_url is None
