"""One rooted exception tree; each error carries a stable `code` and the data to explain it.

`web/errors.py` maps each class to an HTTP status, a page message and a problem+json body.
Messages are English catalogue entries (`text`, marked with `N_`) with `%(name)s` placeholders
filled from `params`: `message` is the English sentence (CLI, logs); the web edge and the mails
translate `text` and format `params` for the reader's language (signin/i18n/catalogs.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signin.i18n import N_, Plural


@dataclass(frozen=True)
class Problem:
    """One reason an input was refused: a machine code, a field and a readable message.

    A `Plural` text takes the form its number asks for: `count` names that parameter."""

    code: str
    field: str
    text: str | Plural
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    count: str = ""

    @property
    def message(self) -> str:
        text = self.text
        if isinstance(text, Plural):
            text = text.english(int(self.params[self.count]))
        return text % self.params if self.params else text


class SigninError(Exception):
    code = "error"
    text = N_("Something went wrong.")

    def __init__(self, text: str = "", **params: Any) -> None:
        self.text = text or type(self).text
        self.params: dict[str, Any] = params
        self.message = self.text % params if params else self.text
        super().__init__(self.message)


class InvalidInput(SigninError):
    """Some fields are not valid."""

    code = "invalid_input"
    text = N_("Some fields are not valid.")

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__()
        self.message = "; ".join(problem.message for problem in problems)
        self.args = (self.message,)  # str(exc): every problem, in English (the CLI shows it)
        self.problems = problems


class UsernameTaken(SigninError):
    """That username is taken."""

    code = "username_taken"
    text = N_("That username is taken.")


class EmailTaken(SigninError):
    """That email address is already used by another account."""

    code = "email_taken"
    text = N_("That email address is already used by another account.")


class InvalidCredentials(SigninError):
    """Wrong username or password."""

    code = "invalid_credentials"
    text = N_("Wrong username or password.")


class WrongPassword(SigninError):
    """The current password is not correct."""

    code = "wrong_password"
    text = N_("The current password is not correct.")


class RetryLater(SigninError):
    """Refused for now; the same request may succeed after `retry_after` seconds.

    The web layer sends `retry_after` as a `Retry-After` header (web/errors.py).
    """

    code = "retry_later"

    def __init__(self, text: str, retry_after: int) -> None:
        # `duration` is the wait in seconds; `message` says it in English, the web edge and
        # the mails in the reader's language (Babel's format_timedelta).
        super().__init__(text, duration=Seconds(retry_after))
        self.retry_after = retry_after


class AccountLocked(RetryLater):
    """Too many failed attempts; the wait is in `retry_after` seconds."""

    code = "locked"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            N_("Too many failed sign-in attempts. Try again in %(duration)s."), retry_after
        )


class Busy(RetryLater):
    """The service is busy; try again in `retry_after` seconds."""

    code = "busy"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(N_("The service is busy. Please try again in a moment."), retry_after)


class Unavailable(SigninError):
    """A backing store did not answer."""

    code = "unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__(N_("The service is temporarily unavailable. Please try again shortly."))
        self.detail = detail


class NotAuthenticated(SigninError):
    """You are not signed in."""

    code = "not_authenticated"
    text = N_("You are not signed in.")


class TokenInvalid(SigninError):
    """This link is not valid. It may have been used already or belong to another request."""

    code = "token_invalid"
    text = N_("This link is not valid. It may have been used already or belong to another request.")


class TokenExpired(TokenInvalid):
    """This link has expired."""

    code = "token_expired"
    text = N_("This link has expired.")

    def __init__(self, expired_at: float) -> None:
        super().__init__()
        self.expired_at = expired_at


class TokenUsed(TokenInvalid):
    """This link was used already. Ask for a new one."""

    code = "token_used"
    text = N_("This link was used already. Ask for a new one.")


class TokenForeign(TokenInvalid):
    """This link was not made for this page or this account."""

    code = "token_foreign"
    text = N_("This link was not made for this page or this account.")


class TokenStale(TokenInvalid):
    """This link is no longer valid: the account changed since it was sent. Ask for a new one."""

    code = "token_stale"
    text = N_(
        "This link is no longer valid: the account changed since it was sent. Ask for a new one."
    )


class RateLimited(RetryLater):
    """Too many requests of this kind; the wait is in `retry_after` seconds."""

    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(N_("Too many requests. Try again in %(duration)s."), retry_after)


class MailNotSent(RetryLater):
    """The mail server did not take the message; nothing was lost, the user may retry."""

    code = "mail_not_sent"

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            N_("We could not send the email just now. Please try again in a few minutes."), 60
        )
        self.detail = detail


class SignUpClosed(SigninError):
    """Sign-up is closed: accounts are made by an administrator."""

    code = "sign_up_closed"
    text = N_("Sign-up is closed: accounts are made by an administrator.")


class InviteRequired(SigninError):
    """Sign-up needs an invite: open the invite link you were given."""

    code = "invite_required"
    text = N_("Sign-up needs an invite: open the invite link you were given.")


class InviteInvalid(SigninError):
    """This invite is not valid: it may have expired, been revoked or been used up."""

    code = "invite_invalid"
    text = N_("This invite is not valid: it may have expired, been revoked or been used up.")


class InvalidCode(SigninError):
    """That code is not right. Enter the current code from your app, or a recovery code."""

    code = "invalid_code"
    text = N_("That code is not right. Enter the current code from your app, or a recovery code.")


class ChallengeInvalid(SigninError):
    """This sign-in step has expired or was used already. Please sign in again."""

    code = "challenge_invalid"
    text = N_("This sign-in step has expired or was used already. Please sign in again.")


class TwoFactorState(SigninError):
    """The second factor is not in a state that allows this (already on, or not set up)."""

    code = "two_factor_state"
    text = N_("The second factor is not in a state that allows this (already on, or not set up).")


class NotFound(SigninError):
    """No such account."""

    code = "not_found"
    text = N_("No such account.")


class PasskeyRefused(SigninError):
    """This passkey was not accepted. Try again, or sign in with your password."""

    code = "passkey_refused"
    text = N_("This passkey was not accepted. Try again, or sign in with your password.")


class PasskeyNotAdded(SigninError):
    """The passkey could not be added. Please try again."""

    code = "passkey_not_added"
    text = N_("The passkey could not be added. Please try again.")


class PasskeyTaken(SigninError):
    """This passkey is already registered."""

    code = "passkey_taken"
    text = N_("This passkey is already registered.")


class CeremonyExpired(SigninError):
    """This passkey request expired or was answered already. Please try again."""

    code = "passkey_challenge"
    text = N_("This passkey request expired or was answered already. Please try again.")


class Seconds(int):
    """A wait in whole seconds, said in words: English here, the reader's language at the edge."""

    def __str__(self) -> str:
        seconds = int(self)
        if seconds < 90:
            return f"{seconds} second{'s' if seconds != 1 else ''}"
        minutes = (seconds + 59) // 60
        return f"{minutes} minutes"
