"""Email addresses: syntax check and the canonical form that makes them unique."""

from __future__ import annotations

from signin.accounts.errors import Problem
from signin.i18n import N_

MAX_LENGTH = 254


def email_canon(email: str) -> str:
    return email.strip().casefold()


def normalize_email(email: str) -> tuple[str | None, list[Problem]]:
    """(the normalized address, problems); an empty string is no address."""
    text = email.strip()
    if not text:
        return None, []
    if len(text) > MAX_LENGTH:
        return None, [Problem("email_invalid", "email", N_("Email address is too long."))]
    # Imported here: its tables take a moment to load, and most commands never check an address.
    from email_validator import EmailNotValidError, validate_email

    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None, [Problem("email_invalid", "email", N_("Email address is not valid."))]
    return valid.normalized, []
