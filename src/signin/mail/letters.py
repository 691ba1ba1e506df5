"""The mails signin sends, rendered from `mail/templates/` (a text and an HTML body each).

Links are built from `SIGNIN_PUBLIC_URL` only, never from the request's Host header: a forged
Host would otherwise put an attacker's domain in front of a live reset token.

Each mail is written in the language its reader last used on the site (`UserRecord.language`,
stored at sign-up, sign-in and by the language picker), else the default language; dates and
durations are said the way that language says them (signin/i18n/catalogs.py).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from signin.accounts.errors import MailNotSent, Seconds
from signin.i18n import N_
from signin.i18n.catalogs import Catalogs, Translator
from signin.i18n.jinja import install, render_in
from signin.mail import ChangedBy
from signin.mail.transport import Mail, Mailer, MailError
from signin.stores.base import UserRecord

if TYPE_CHECKING:
    from jinja2 import Environment

SUBJECTS = {
    "reset": N_("Reset your password"),
    "verify": N_("Confirm your email address"),
    "password_changed": N_("Your password was changed"),
    "unlock": N_("Sign-in attempts on your account were blocked"),
    "two_factor_on": N_("Two-factor sign-in was turned on"),
    "two_factor_off": N_("Two-factor sign-in was turned off"),
    "passkey_added": N_("A passkey was added to your account"),
    "passkey_removed": N_("A passkey was removed from your account"),
}


def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("signin.mail", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    install(env)
    return env


class Moment(float):
    """A Unix time to be written as a date and time in the reader's language."""


def _said(speak: Translator, value: Any) -> Any:
    if isinstance(value, Seconds):
        return speak.duration(int(value))
    if isinstance(value, Moment):
        return speak.datetime(float(value))
    return value


class TemplateLetters:
    """`signin.mail.Letters`: each letter rendered from its templates and sent by `mailer`."""

    def __init__(self, mailer: Mailer, public_url: str, catalogs: Catalogs | None = None) -> None:
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")
        self.catalogs = catalogs or Catalogs()

    @cached_property
    def _env(self) -> Environment:
        """Jinja, loaded with the first letter (a CLI command that sends none never loads it)."""
        return _environment()

    def link(self, path: str, token: str) -> str:
        return f"{self.public_url}{path}?{urlencode({'token': token})}"

    def reader(self, user: UserRecord) -> Translator:
        """The language of `user`'s mails: the one last used on the site, else the default."""
        return self.catalogs.get(user.language)

    def render(self, kind: str, user: UserRecord, **context: Any) -> Mail:
        assert user.email is not None
        speak = self.reader(user)
        context = {
            "site": self.public_url,
            "username": user.username,
            "lang_tag": speak.html_lang,
            "lang_dir": speak.direction,
            **{key: _said(speak, value) for key, value in context.items()},
        }
        text = render_in(speak, self._env, f"{kind}.txt", context)
        html = render_in(speak, self._env, f"{kind}.html", context)
        subject = speak.gettext(SUBJECTS[kind])
        return Mail(to=user.email, subject=subject, text=text, html=html, language=speak.html_lang)

    async def _send(self, mail: Mail) -> None:
        try:
            await self.mailer.send(mail)
        except MailError as exc:
            raise MailNotSent(str(exc)) from None

    async def reset_link(self, user: UserRecord, token: str, valid_seconds: int) -> None:
        await self._send(
            self.render(
                "reset",
                user,
                link=self.link("/reset-password", token),
                valid_for=Seconds(valid_seconds),
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def verify_link(self, user: UserRecord, token: str, valid_seconds: int) -> None:
        await self._send(
            self.render(
                "verify",
                user,
                link=self.link("/verify-email", token),
                valid_for=Seconds(valid_seconds),
            )
        )

    async def unlock_link(self, user: UserRecord, token: str, valid_seconds: int) -> None:
        await self._send(
            self.render(
                "unlock",
                user,
                link=self.link("/unlock", token),
                valid_for=Seconds(valid_seconds),
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def password_changed(
        self, user: UserRecord, *, by: ChangedBy, when: float, ip: str | None
    ) -> None:
        await self._send(
            self.render(
                "password_changed",
                user,
                by=by,
                when=Moment(when),
                ip=ip or "",
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def two_factor_changed(self, user: UserRecord, *, on: bool, when: float) -> None:
        await self._send(
            self.render(
                "two_factor_on" if on else "two_factor_off",
                user,
                when=Moment(when),
                manage=f"{self.public_url}/account/two-factor",
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def passkey_changed(
        self, user: UserRecord, *, added: bool, name: str, when: float
    ) -> None:
        await self._send(
            self.render(
                "passkey_added" if added else "passkey_removed",
                user,
                name=name,
                when=Moment(when),
                manage=f"{self.public_url}/account#passkeys",
                forgot=f"{self.public_url}/forgot-password",
            )
        )

    async def probe(self) -> None:
        try:
            await self.mailer.probe()
        except MailError as exc:
            raise MailNotSent(str(exc)) from None
