"""Password policy (SPEC section 2): length, not the username, not a common password.

Applied on both paths: a plaintext is checked directly; a pre-hash can only be compared, so it is
checked against the pre-hashes of the username and of the common list for that username. Length
can only be checked on plaintext (the browser checks it before pre-hashing).
"""

from __future__ import annotations

import asyncio

from signin.accounts.errors import Problem
from signin.crypto.common import CommonPasswords
from signin.crypto.prehash import canon, is_prehash, normalize_password, prehash_v1

MAX_LENGTH = 1024


class PasswordPolicy:
    def __init__(self, min_length: int, common: CommonPasswords | None = None) -> None:
        self.min_length = min_length
        self.common = common or CommonPasswords()

    def plain_problems(self, username: str, password: str) -> list[Problem]:
        text = normalize_password(password)
        problems = []
        if len(text) < self.min_length:
            problems.append(
                Problem(
                    "password_too_short",
                    "password",
                    f"Password must be at least {self.min_length} characters.",
                )
            )
        if len(text) > MAX_LENGTH:
            problems.append(
                Problem(
                    "password_too_long",
                    "password",
                    f"Password must be at most {MAX_LENGTH} characters.",
                )
            )
        if text in (normalize_password(username), canon(username)):
            problems.append(
                Problem("password_is_username", "password", "Password must not be the username.")
            )
        elif self.common.contains_plain(text):
            problems.append(
                Problem(
                    "password_too_common",
                    "password",
                    "This password is too common; choose another.",
                )
            )
        return problems

    def prehash_problems(self, username: str, prehash: str) -> list[Problem]:
        if prehash in username_prehashes(username):
            return [
                Problem("password_is_username", "password", "Password must not be the username.")
            ]
        if self.common.contains_prehash(username, prehash):
            return [
                Problem(
                    "password_too_common",
                    "password",
                    "This password is too common; choose another.",
                )
            ]
        return []

    async def check(self, username: str, password: str) -> tuple[str, list[Problem]]:
        """(the pre-hash to store, the problems); the common-list sweep runs off the loop."""
        if is_prehash(password):
            problems = await asyncio.to_thread(self.prehash_problems, username, password)
            return password, problems
        problems = await asyncio.to_thread(self.plain_problems, username, password)
        return prehash_v1(username, password), problems


def username_prehashes(username: str) -> set[str]:
    """Pre-hashes of a password equal to the username, as typed or in its canonical form."""
    return {prehash_v1(username, username), prehash_v1(username, canon(username))}
