"""One rooted exception tree; each error carries a stable `code` and the data to explain it.

`web/errors.py` maps each class to an HTTP status, a page message and a problem+json body.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One reason an input was refused: a machine code, a field and a readable message."""

    code: str
    field: str
    message: str


class SigninError(Exception):
    code = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__doc__ or self.code)
        self.message = message or (self.__doc__ or self.code).strip()


class InvalidInput(SigninError):
    """Some fields are not valid."""

    code = "invalid_input"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


class UsernameTaken(SigninError):
    """That username is taken."""

    code = "username_taken"


class EmailTaken(SigninError):
    """That email address is already used by another account."""

    code = "email_taken"


class InvalidCredentials(SigninError):
    """Wrong username or password."""

    code = "invalid_credentials"


class WrongPassword(SigninError):
    """The current password is not correct."""

    code = "wrong_password"


class RetryLater(SigninError):
    """Refused for now; the same request may succeed after `retry_after` seconds.

    The web layer sends `retry_after` as a `Retry-After` header (web/errors.py).
    """

    code = "retry_later"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountLocked(RetryLater):
    """Too many failed attempts; the wait is in `retry_after` seconds."""

    code = "locked"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed sign-in attempts. Try again in {_duration(retry_after)}.",
            retry_after,
        )


class Busy(RetryLater):
    """The service is busy; try again in `retry_after` seconds."""

    code = "busy"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("The service is busy. Please try again in a moment.", retry_after)


class Unavailable(SigninError):
    """A backing store did not answer."""

    code = "unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__("The service is temporarily unavailable. Please try again shortly.")
        self.detail = detail


class NotAuthenticated(SigninError):
    """You are not signed in."""

    code = "not_authenticated"


class TokenInvalid(SigninError):
    """This link is not valid. It may have been used already or belong to another request."""

    code = "token_invalid"


class TokenExpired(TokenInvalid):
    """This link has expired."""

    code = "token_expired"

    def __init__(self, expired_at: float) -> None:
        super().__init__()
        self.expired_at = expired_at


class TokenUsed(TokenInvalid):
    """This link was used already. Ask for a new one."""

    code = "token_used"


class TokenForeign(TokenInvalid):
    """This link was not made for this page or this account."""

    code = "token_foreign"


class TokenStale(TokenInvalid):
    """This link is no longer valid: the account changed since it was sent. Ask for a new one."""

    code = "token_stale"


class RateLimited(RetryLater):
    """Too many requests of this kind; the wait is in `retry_after` seconds."""

    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests. Try again in {_duration(retry_after)}.", retry_after)


class MailNotSent(RetryLater):
    """The mail server did not take the message; nothing was lost, the user may retry."""

    code = "mail_not_sent"

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "We could not send the email just now. Please try again in a few minutes.", 60
        )
        self.detail = detail


class SignUpClosed(SigninError):
    """Sign-up is closed: accounts are made by an administrator."""

    code = "sign_up_closed"


class InviteRequired(SigninError):
    """Sign-up needs an invite: open the invite link you were given."""

    code = "invite_required"


class InviteInvalid(SigninError):
    """This invite is not valid: it may have expired, been revoked or been used up."""

    code = "invite_invalid"


class InvalidCode(SigninError):
    """That code is not right. Enter the current code from your app, or a recovery code."""

    code = "invalid_code"


class ChallengeInvalid(SigninError):
    """This sign-in step has expired or was used already. Please sign in again."""

    code = "challenge_invalid"


class TwoFactorState(SigninError):
    """The second factor is not in a state that allows this (already on, or not set up)."""

    code = "two_factor_state"


class NotFound(SigninError):
    """No such account."""

    code = "not_found"


class PasskeyRefused(SigninError):
    """This passkey was not accepted. Try again, or sign in with your password."""

    code = "passkey_refused"


class PasskeyNotAdded(SigninError):
    """The passkey could not be added. Please try again."""

    code = "passkey_not_added"


class PasskeyTaken(SigninError):
    """This passkey is already registered."""

    code = "passkey_taken"


class CeremonyExpired(SigninError):
    """This passkey request expired or was answered already. Please try again."""

    code = "passkey_challenge"


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = (seconds + 59) // 60
    return f"{minutes} minutes"
