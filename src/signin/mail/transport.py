"""Outgoing mail behind one protocol: SMTP (`SIGNIN_SMTP_URL`) or the outbox directory.

`SmtpMailer` talks to `smtp://[user:pass@]host[:port][?starttls=1]` (plain, or upgraded with a
required STARTTLS) or `smtps://...` (TLS from the first byte); certificates are always verified
against the system trust store (point `SSL_CERT_FILE` at a private CA). `OutboxMailer`, used when
no SMTP URL is set, writes each message to `DATA_DIR/outbox/*.eml` (mode 0600: the files hold
live links) and logs recipient, subject and file name, never the body, which carries the token.
"""

from __future__ import annotations

import logging
import os
import secrets
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    import aiosmtplib

log = logging.getLogger("signin.mail")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class MailError(Exception):
    """The message was not accepted; the text is safe to log (no credentials, no body)."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    language: str = "en"  # BCP 47, sent as Content-Language


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None:
        """Deliver `mail` or raise `MailError`."""
        ...

    async def probe(self) -> None:
        """Talk to the transport as a send would, without sending; raise `MailError` on failure.

        Used where a request must not reveal whether a message was sent (forgot-password).
        """
        ...


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None

    def __repr__(self) -> str:  # keep the password out of tracebacks and logs
        return f"SmtpConfig(host={self.host!r}, port={self.port}, tls={self.implicit_tls})"


def parse_smtp_url(url: str) -> SmtpConfig:
    """Parse `SIGNIN_SMTP_URL`; `ValueError` with a readable reason when it is not valid."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("must look like smtp://[user:pass@]host:port or smtps://...")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    starttls = False
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != "starttls":
            raise ValueError(f"unknown option {name!r} (only starttls=1 is known)")
        if value.lower() in _TRUE:
            starttls = True
        elif value.lower() not in _FALSE:
            raise ValueError("starttls must be 1 or 0")
    implicit = parts.scheme == "smtps"
    if implicit and starttls:
        raise ValueError("smtps:// is TLS already; starttls=1 is for smtp://")
    return SmtpConfig(
        host=parts.hostname,
        port=port or (465 if implicit else 587 if starttls else 25),
        implicit_tls=implicit,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_message(mail: Mail, sender: str, *, readable: bool = False) -> EmailMessage:
    """The MIME message; `readable` keeps the text part unencoded (8bit) for the outbox files,
    so an operator can find the link with grep instead of decoding quoted-printable."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    # RFC 3834: tells vacation responders and list servers not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text, cte="8bit" if readable else None)
    message.add_alternative(mail.html, subtype="html")
    message["Content-Language"] = mail.language  # after set_content, which drops Content-*
    return message


class SmtpMailer:
    def __init__(
        self,
        config: SmtpConfig,
        *,
        sender: str,
        timeout: float,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.sender = sender
        self.timeout = timeout
        self.tls_context = tls_context

    def _client(self) -> aiosmtplib.SMTP:
        import aiosmtplib  # with the first mail: a CLI command that sends none never loads it

        config = self.config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.implicit_tls,
            # Explicit: never an opportunistic upgrade that silently falls back to plain text.
            start_tls=config.starttls,
            timeout=self.timeout,
            tls_context=self.tls_context,
            validate_certs=True,
        )

    async def send(self, mail: Mail) -> None:
        import aiosmtplib

        message = build_message(mail, self.sender)
        try:
            async with self._client() as client:
                await client.send_message(message)
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise MailError(self._describe(exc)) from None
        log.info("mail sent to %s: %s", mail.to, mail.subject)

    async def probe(self) -> None:
        import aiosmtplib

        try:
            async with self._client() as client:
                await client.noop()
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise MailError(self._describe(exc)) from None

    def _describe(self, exc: BaseException) -> str:
        where = f"{self.config.host}:{self.config.port}"
        text = str(exc).splitlines()[0] if str(exc) else ""
        return f"SMTP {where}: {type(exc).__name__}: {text}"[:300]


class OutboxMailer:
    """No SMTP configured: each message becomes an `.eml` file an operator can open."""

    def __init__(self, directory: Path, *, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        message = build_message(mail, self.sender, readable=True)
        try:
            path = self._write(message.as_bytes())
        except OSError as exc:
            raise MailError(f"outbox {self.directory}: {exc.strerror or exc}") from None
        log.info("mail to %s (%s) written to %s", mail.to, mail.subject, path)

    async def probe(self) -> None:
        if not os.access(self.directory.parent, os.W_OK):
            raise MailError(f"outbox {self.directory}: not writable")

    def _write(self, data: bytes) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = f"{stamp}-{secrets.token_hex(4)}.eml"
        temporary = self.directory / f".{name}.tmp"
        # Written whole, then renamed: a reader never sees half a message.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        final = self.directory / name
        os.replace(temporary, final)
        return final


def build_mailer(
    smtp_url: str | None,
    *,
    data_dir: Path,
    sender: str,
    timeout: float,
    tls_context: ssl.SSLContext | None = None,
) -> Mailer:
    if smtp_url:
        return SmtpMailer(
            parse_smtp_url(smtp_url), sender=sender, timeout=timeout, tls_context=tls_context
        )
    return OutboxMailer(data_dir / "outbox", sender=sender)
