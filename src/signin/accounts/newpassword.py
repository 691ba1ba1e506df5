"""Setting a new password, shared by the reset link and the account page.

Both paths apply the full policy (plaintext or pre-hash, SPEC section 2) and store
`argon2id(prehash)`; the change time moves, which kills every outstanding reset link.
"""

from __future__ import annotations

from signin.accounts.clock import Clock
from signin.accounts.errors import Busy, InvalidInput
from signin.accounts.policy import PasswordPolicy
from signin.crypto.passwords import HasherBusy, PasswordHasher
from signin.stores.base import UserRecord, UserStore


class NewPassword:
    def __init__(
        self, users: UserStore, hasher: PasswordHasher, policy: PasswordPolicy, *, clock: Clock
    ) -> None:
        self.users = users
        self.hasher = hasher
        self.policy = policy
        self.clock = clock

    async def hash_for(self, user: UserRecord, password: str) -> str:
        """The argon2id hash to store; `InvalidInput` when the policy refuses the password."""
        prehash, problems = await self.policy.check(user.username, password)
        if problems:
            raise InvalidInput(problems)
        try:
            return await self.hasher.hash(prehash)
        except HasherBusy as exc:
            raise Busy(exc.retry_after) from None

    async def store(self, user: UserRecord, password_hash: str) -> float:
        """Save it; returns the change time."""
        now = self.clock()
        await self.users.set_password_hash(user.id, password_hash, now)
        return now
