"""Mail: what the account services may send, and how it is rendered and delivered.

`Letters` (here) is all that `accounts/` knows of mail: the messages, not SMTP; each method
raises `MailNotSent` when the message could not be handed over. `mail/letters.py` implements it
with the templates in `mail/templates/` (a text and an HTML body each); `mail/transport.py`
delivers the result over SMTP or into the outbox directory. Importing this package loads no
driver and no template engine.
"""

from __future__ import annotations

from typing import Literal, Protocol

from signin.stores.base import UserRecord

ChangedBy = Literal["reset", "account"]


class Letters(Protocol):
    async def reset_link(self, user: UserRecord, token: str, valid_seconds: int) -> None: ...
    async def verify_link(self, user: UserRecord, token: str, valid_seconds: int) -> None: ...
    async def unlock_link(self, user: UserRecord, token: str, valid_seconds: int) -> None: ...
    async def password_changed(
        self, user: UserRecord, *, by: ChangedBy, when: float, ip: str | None
    ) -> None: ...
    async def two_factor_changed(self, user: UserRecord, *, on: bool, when: float) -> None: ...
    async def passkey_changed(
        self, user: UserRecord, *, added: bool, name: str, when: float
    ) -> None: ...
    async def probe(self) -> None:
        """Contact the mail transport as a send would (keeps forgot-password timing alike)."""
        ...
