"""Password policy (SPEC section 2): length, not the username, not a common password.

Applied on both paths: a plaintext is checked directly; a pre-hash can only be compared, so it is
checked against the pre-hashes of the username and of the common list for that username. Length
can only be checked on plaintext (the browser checks it before pre-hashing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from signin.accounts.errors import Busy, Problem
from signin.crypto.common_passwords import CommonPasswords
from signin.crypto.passwords import HasherBusy
from signin.crypto.prehash import canon, is_prehash, normalize_password, prehash_v1, to_prehash
from signin.i18n import N_, Nn_

MAX_LENGTH = 1024
TOO_SHORT = Nn_(
    "Password must be at least %(min)d character.", "Password must be at least %(min)d characters."
)


Offload = Callable[..., Awaitable[Any]]


class PasswordPolicy:
    def __init__(
        self,
        min_length: int,
        common: CommonPasswords | None = None,
        *,
        offload: Offload | None = None,
    ) -> None:
        """`offload(func, *args)` runs the CPU-bound checks off the event loop; the service
        passes the password hasher's bounded pool, so a flood of sign-ups queues there too."""
        self.min_length = min_length
        self.common = common or CommonPasswords()
        self._offload: Offload = offload or asyncio.to_thread

    def plain_problems(self, username: str, password: str) -> list[Problem]:
        text = normalize_password(password)
        problems = []
        if len(text) < self.min_length:
            problems.append(
                Problem(
                    "password_too_short",
                    "password",
                    TOO_SHORT,
                    {"min": self.min_length},
                    count="min",
                )
            )
        if len(text) > MAX_LENGTH:
            problems.append(
                Problem(
                    "password_too_long",
                    "password",
                    N_("Password must be at most %(max)d characters."),
                    {"max": MAX_LENGTH},
                )
            )
        if text in (normalize_password(username), canon(username)):
            problems.append(
                Problem(
                    "password_is_username", "password", N_("Password must not be the username.")
                )
            )
        elif self.common.contains_plain(text):
            problems.append(
                Problem(
                    "password_too_common",
                    "password",
                    N_("This password is too common; choose another."),
                )
            )
        return problems

    def prehash_problems(self, username: str, prehash: str) -> list[Problem]:
        if prehash in username_prehashes(username):
            return [
                Problem(
                    "password_is_username", "password", N_("Password must not be the username.")
                )
            ]
        if self.common.contains_prehash(username, prehash):
            return [
                Problem(
                    "password_too_common",
                    "password",
                    N_("This password is too common; choose another."),
                )
            ]
        return []

    async def check(self, username: str, password: str) -> tuple[str, list[Problem]]:
        """(the pre-hash to store, the problems); the common-list sweep runs off the loop.

        Raises `Busy` when the pool it runs in is full.
        """
        check = self.prehash_problems if is_prehash(password) else self.plain_problems
        try:
            problems: list[Problem] = await self._offload(check, username, password)
        except HasherBusy as exc:
            raise Busy(exc.retry_after) from None
        return to_prehash(username, password), problems


def username_prehashes(username: str) -> set[str]:
    """Pre-hashes of a password equal to the username, as typed or in its canonical form."""
    return {prehash_v1(username, username), prehash_v1(username, canon(username))}
