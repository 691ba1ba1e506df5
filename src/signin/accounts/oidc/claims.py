"""What the provider says about a user: claims by scope, `acr`/`amr`, and the ID token.

`sub` is a random stable identifier per user (stores: `oidc_subjects`), never the username, so
a renamed or recreated account is never mistaken for another.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from signin.accounts.oidc.keys import ProviderKeys
from signin.stores.oidc import Subject as Person

ACR_PASSWORD = "pwd"  # noqa: S105 (an acr value)
ACR_TWO_FACTOR = "mfa"
MAX_HINT = 8192


def amr_of(two_factor: bool) -> str:
    """RFC 8176 method references, space-separated, as the session was made."""
    return "mfa" if two_factor else "pwd"


def acr_of(amr: str) -> str:
    return ACR_TWO_FACTOR if "mfa" in amr.split() else ACR_PASSWORD


def claims_for(person: Person, scope: str) -> dict[str, Any]:
    scopes = scope.split()
    claims: dict[str, Any] = {"sub": person.sub}
    if "profile" in scopes:
        claims["preferred_username"] = person.username
        claims["name"] = person.username
    if "email" in scopes and person.email:
        claims["email"] = person.email
        claims["email_verified"] = person.email_verified
    if "groups" in scopes:
        claims["groups"] = list(person.groups)
    return claims


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core 3.1.3.6: the left half of the token's hash with the hash of the ID token's
    `alg`: SHA-256 for RS256 and ES256, SHA-512 for Ed25519 (EdDSA on Ed25519, RFC 9864's name),
    as the OpenID Foundation's token hash registry and the certified RP libraries have it."""
    data = access_token.encode("ascii")
    digest = hashlib.sha512(data).digest() if alg == "Ed25519" else hashlib.sha256(data).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class IdTokenFacts:
    issuer: str
    client_id: str
    alg: str
    auth_time: float
    amr: str
    session_id: str | None
    nonce: str | None
    now: float
    lifetime: int


def id_token(
    keys: ProviderKeys, facts: IdTokenFacts, person: Person, scope: str, access_token: str
) -> str:
    claims = claims_for(person, scope)
    claims.update(
        iss=facts.issuer,
        aud=facts.client_id,
        azp=facts.client_id,
        iat=int(facts.now),
        exp=int(facts.now) + facts.lifetime,
        auth_time=int(facts.auth_time),
        amr=facts.amr.split(),
        acr=acr_of(facts.amr),
        at_hash=at_hash(access_token, facts.alg),
    )
    if facts.nonce is not None:
        claims["nonce"] = facts.nonce
    if facts.session_id is not None:
        claims["sid"] = facts.session_id
    return keys.sign(claims, facts.alg)


def issued_id_token(token: str, keys: ProviderKeys, issuer: str) -> dict[str, Any] | None:
    """The claims of an ID token this provider issued (expired or not), else None: an
    `id_token_hint`, at the authorization endpoint or at logout. A logout token, signed by the
    same keys, is no ID token."""
    claims = keys.verify(token) if len(token) <= MAX_HINT else None
    if claims is None or claims.get("iss") != issuer or "events" in claims:
        return None
    return claims
