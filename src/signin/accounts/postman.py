"""What the account services need from mail: the messages, not SMTP.

Implemented by `signin.letters.Letters` (templates + a `Mailer`); each method raises
`MailNotSent` when the message could not be handed over.
"""

from __future__ import annotations

from typing import Literal, Protocol

from signin.stores.base import UserRecord

ChangedBy = Literal["reset", "account"]


class Postman(Protocol):
    async def reset_link(self, user: UserRecord, token: str, valid_seconds: int) -> None: ...
    async def verify_link(self, user: UserRecord, token: str, valid_seconds: int) -> None: ...
    async def unlock_link(self, user: UserRecord, token: str, valid_seconds: int) -> None: ...
    async def password_changed(
        self, user: UserRecord, *, by: ChangedBy, when: float, ip: str | None
    ) -> None: ...
    async def probe(self) -> None:
        """Contact the mail transport as a send would (keeps forgot-password timing alike)."""
        ...
