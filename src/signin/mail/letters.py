"""The mails signin sends, rendered from `mail/templates/` (a text and an HTML body each).

Links are built from `SIGNIN_PUBLIC_URL` only, never from the request's Host header: a forged
Host would otherwise put an attacker's domain in front of a live reset token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from signin.accounts.errors import MailNotSent
from signin.mail import ChangedBy
from signin.mail.transport import Mail, Mailer, MailError
from signin.stores.base import UserRecord

if TYPE_CHECKING:
    from jinja2 import Environment

SUBJECTS = {
    "reset": "Reset your password",
    "verify": "Confirm your email address",
    "password_changed": "Your password was changed",
    "unlock": "Sign-in attempts on your account were blocked",
    "two_factor_on": "Two-factor sign-in was turned on",
    "two_factor_off": "Two-factor sign-in was turned off",
    "passkey_added": "A passkey was added to your account",
    "passkey_removed": "A passkey was removed from your account",
}


def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("signin.mail", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds >= 120:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


class TemplateLetters:
    """`signin.mail.Letters`: each letter rendered from its templates and sent by `mailer`."""

    def __init__(self, mailer: Mailer, public_url: str) -> None:
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")

    @cached_property
    def _env(self) -> Environment:
        """Jinja, loaded with the first letter (a CLI command that sends none never loads it)."""
        return _environment()

    def link(self, path: str, token: str) -> str:
        return f"{self.public_url}{path}?{urlencode({'token': token})}"

    def render(self, kind: str, to: str, **context: Any) -> Mail:
        context = {"site": self.public_url, **context}
        text = self._env.get_template(f"{kind}.txt").render(context)
        html = self._env.get_template(f"{kind}.html").render(context)
        return Mail(to=to, subject=SUBJECTS[kind], text=text, html=html)

    async def _send(self, mail: Mail) -> None:
        try:
            await self.mailer.send(mail)
        except MailError as exc:
            raise MailNotSent(str(exc)) from None

    async def reset_link(self, user: UserRecord, token: str, valid_seconds: int) -> None:
        assert user.email is not None
        await self._send(
            self.render(
                "reset",
                user.email,
                username=user.username,
                link=self.link("/reset-password", token),
                valid_for=_duration(valid_seconds),
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def verify_link(self, user: UserRecord, token: str, valid_seconds: int) -> None:
        assert user.email is not None
        await self._send(
            self.render(
                "verify",
                user.email,
                username=user.username,
                link=self.link("/verify-email", token),
                valid_for=_duration(valid_seconds),
            )
        )

    async def unlock_link(self, user: UserRecord, token: str, valid_seconds: int) -> None:
        assert user.email is not None
        await self._send(
            self.render(
                "unlock",
                user.email,
                username=user.username,
                link=self.link("/unlock", token),
                valid_for=_duration(valid_seconds),
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def password_changed(
        self, user: UserRecord, *, by: ChangedBy, when: float, ip: str | None
    ) -> None:
        assert user.email is not None
        await self._send(
            self.render(
                "password_changed",
                user.email,
                username=user.username,
                by=by,
                when=datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC"),
                ip=ip or "",
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def two_factor_changed(self, user: UserRecord, *, on: bool, when: float) -> None:
        assert user.email is not None
        await self._send(
            self.render(
                "two_factor_on" if on else "two_factor_off",
                user.email,
                username=user.username,
                when=datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC"),
                manage=f"{self.public_url}/account/two-factor",
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def passkey_changed(
        self, user: UserRecord, *, added: bool, name: str, when: float
    ) -> None:
        assert user.email is not None
        await self._send(
            self.render(
                "passkey_added" if added else "passkey_removed",
                user.email,
                username=user.username,
                name=name,
                when=datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC"),
                manage=f"{self.public_url}/account#passkeys",
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def probe(self) -> None:
        try:
            await self.mailer.probe()
        except MailError as exc:
            raise MailNotSent(str(exc)) from None
