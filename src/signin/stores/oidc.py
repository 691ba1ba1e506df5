"""The OpenID Connect store protocol and its records (SQL adapter: stores/sql/oidc*.py).

Codes, access tokens and refresh tokens are bearer secrets: the store sees only their SHA-256.
A *grant* is one family of tokens, made by one code redemption; rotating a refresh token keeps
the family, and revoking the family ends every token in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TokenKind = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class CodeRecord:
    code_hash: bytes
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: float
    amr: str  # space-separated: "pwd", "pwd otp", "hwk"...
    session_id: str | None
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class GrantRecord:
    id: str
    client_id: str
    user_id: int
    scope: str
    auth_time: float
    amr: str
    session_id: str | None
    created_at: float
    expires_at: float  # when its last token ends (purge)
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class OidcToken:
    token_hash: bytes
    kind: TokenKind
    grant_id: str
    created_at: float
    expires_at: float
    scope: str | None = None  # None: its grant's; an access token of a narrowed refresh: less


@dataclass(frozen=True, slots=True)
class Subject:
    """What the provider may say of an enabled user."""

    sub: str
    username: str
    email: str | None
    email_verified: bool
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActiveToken:
    """A live token with its grant and what userinfo and introspection say of its user."""

    token: OidcToken
    grant: GrantRecord
    person: Subject

    @property
    def scope(self) -> str:
        """What this token may be used for: its own scope, else its grant's."""
        return self.token.scope if self.token.scope is not None else self.grant.scope


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A code redemption. `reused`: the code was used before (its first use made `grant_id`)."""

    code: CodeRecord
    reused: bool
    grant_id: str


@dataclass(frozen=True, slots=True)
class Rotated:
    """A refresh: the grant when this call used the token, else the grant of a reuse."""

    grant: GrantRecord | None
    reused_grant: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    user_id: int
    client_id: str
    scope: str
    created_at: float


class OidcStore(Protocol):
    async def subject(self, user_id: int) -> str:
        """The user's stable `sub` (made on first need, never the username)."""
        ...

    async def person(self, user_id: int) -> Subject | None:
        """The user as claims describe them; None when disabled or deleted."""
        ...

    async def add_code(self, code: CodeRecord) -> None: ...
    async def redeem_code(self, code_hash: bytes, now: float, grant_id: str) -> Redeemed | None:
        """Use an unexpired code once, atomically, naming the grant it makes; None when the
        code is unknown or expired."""
        ...

    async def add_grant(self, grant: GrantRecord, tokens: list[OidcToken]) -> bool:
        """Store a new family and its first tokens; False when the id was revoked already."""
        ...

    async def rotate_refresh(
        self,
        token_hash: bytes,
        now: float,
        replacements: list[OidcToken],
        expires_at: float,
        *,
        grant: GrantRecord | None = None,
    ) -> Rotated:
        """Use a live refresh token once, atomically, storing `replacements` in its family (their
        `grant_id` is the family's) in the same transaction; the family then lives until at
        least `expires_at`. `grant`: the family as `active` just read it, which lets the store
        skip reading it again (the write still checks that token and family are live)."""
        ...

    async def active(self, token_hash: bytes, kind: TokenKind, now: float) -> ActiveToken | None:
        """A live token of `kind`: unexpired, unused, its grant not revoked, its user enabled."""
        ...

    async def revoke_token(self, token_hash: bytes) -> bool: ...
    async def revoke_grant(
        self, grant_id: str, now: float, tombstone: GrantRecord | None = None
    ) -> bool:
        """Revoke a family and delete its tokens. With `tombstone`, a family not stored yet
        is stored revoked, so the redemption still making it fails (`add_grant` -> False)."""
        ...

    async def revoke_for_user(
        self, user_id: int, now: float, client_id: str | None = None
    ) -> int: ...
    async def grants_for_user(self, user_id: int, now: float) -> list[GrantRecord]: ...
    async def consent(self, user_id: int, client_id: str) -> ConsentRecord | None: ...
    async def give_consent(self, record: ConsentRecord) -> None: ...
    async def withdraw_consent(self, user_id: int, client_id: str) -> bool: ...
    async def consents_for_user(self, user_id: int) -> list[ConsentRecord]: ...
    async def purge(self, now: float) -> int: ...
