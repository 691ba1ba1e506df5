"""Usernames: their canonical form (identity) and the rules a new one must pass (SPEC section 4)."""

from __future__ import annotations

import unicodedata

from signin.accounts.errors import Problem
from signin.accounts.lookalikes import is_mixed_script, skeleton
from signin.crypto.prehash import canon
from signin.i18n import N_

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "canon", "skeleton", "username_problems"]

MIN_LENGTH, MAX_LENGTH = 3, 32
_PUNCTUATION = frozenset("._-")


def username_problems(username: str) -> list[Problem]:
    """Every reason `username` cannot be registered (empty when it can)."""
    text = unicodedata.normalize("NFKC", username)
    problems = []
    # The typed form is what gets stored and shown: bound it too (decomposed input can be long).
    if not MIN_LENGTH <= len(text) <= MAX_LENGTH or len(username) > 2 * MAX_LENGTH:
        problems.append(
            Problem(
                "username_length",
                "username",
                N_("Username must be %(min)d to %(max)d characters long."),
                {"min": MIN_LENGTH, "max": MAX_LENGTH},
            )
        )
    if any(not _allowed(char, position) for position, char in enumerate(text)):
        problems.append(
            Problem(
                "username_characters",
                "username",
                N_("Username may contain only letters, digits, '.', '_' and '-'."),
            )
        )
    elif is_mixed_script(text):
        # `аdmin` with a Cyrillic а: a look-alike of another name (SPEC section 16).
        problems.append(
            Problem(
                "username_mixed_script",
                "username",
                N_(
                    "Username must not mix letters of different scripts "
                    "(such as Latin and Cyrillic)."
                ),
            )
        )
    return problems


def _allowed(char: str, position: int) -> bool:
    if char.isalpha() or char.isdigit() or char in _PUNCTUATION:
        return True
    # Combining marks belong to the letter before them (Devanagari vowel signs, for one).
    return position > 0 and unicodedata.category(char).startswith("M")
