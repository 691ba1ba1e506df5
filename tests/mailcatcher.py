"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives.

Plain, implicit TLS (smtps) or STARTTLS, optionally with AUTH; certificates are made with the
`openssl` command line for 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support import free_port, need

LINK_RE = re.compile(r"https?://[^\s\"<>]+")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "no text/plain body"
        return str(part.get_content())  # type: ignore[attr-defined]

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None, "no text/html body"
        return str(part.get_content())  # type: ignore[attr-defined]

    def link(self, path: str) -> str:
        """The one link in the text body whose path is `path` (query included)."""
        links = [link for link in LINK_RE.findall(self.text()) if f"{path}?" in link]
        assert len(links) == 1, f"expected one {path} link, found {links}"
        return links[0]

    def token(self, path: str) -> str:
        return self.link(path).split("token=", 1)[1]


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.catcher.lock:
            self.catcher.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message)
            )
            self.catcher.lock.notify_all()
        return "250 Message accepted for delivery"


class MailCatcher:
    def __init__(
        self,
        *,
        implicit_tls: ssl.SSLContext | None = None,
        starttls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.lock = threading.Condition()
        self.credentials = credentials
        kwargs: dict[str, Any] = {}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=implicit_tls,
            server_hostname="127.0.0.1",
            **kwargs,
        )
        self.scheme = "smtps" if implicit_tls is not None else "smtp"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials is not None
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> MailCatcher:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} mails, got {len(self.received)}")
                self.lock.wait(left)
            return list(self.received)

    def last(self) -> Received:
        return self.wait_for(1)[-1]

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [item for item in self.received if address in item.rcpt_tos]


@contextmanager
def mail_catcher(**kwargs: Any) -> Iterator[MailCatcher]:
    catcher = MailCatcher(**kwargs).start()
    try:
        yield catcher
    finally:
        catcher.stop()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(cert, key) for 127.0.0.1 / localhost, valid for a day; skips without openssl."""
    need(shutil.which("openssl") is not None, "the openssl command")
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))
