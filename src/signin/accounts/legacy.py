"""Accounts carried over from the original demo, and how they keep signing in.

The demo's browser script sent

    "$1$" + base64(SHA-512(bytes(username + password))) + "$"

where `bytes()` took every UTF-16 code unit of the text *as typed* and kept its low 8 bits
(`new Uint8Array(s.split('').map(c => c.charCodeAt(0)))`), and stored that string as is. Our
browser sends `prehash_v1` over `utf8(canon(username)) + utf8(NFKC(password))`. The two are the
same string exactly when the demo username is ASCII and already in canonical form (no capitals)
and the password is ASCII. Nothing on the server can turn one digest into the other, so:

- every imported account stores `MARK + argon2id(demo pre-hash)` ("hash wrapping": no password
  needed). The mark makes the ordinary verifier refuse the hash (it is no PHC string), so only
  `verify_legacy` below ever checks it;
- a v1 pre-hash (the page, the API) is checked against it directly: that succeeds for canonical
  ASCII usernames with ASCII passwords, the common case;
- a plaintext password (the API, curl, a browser without JavaScript) is turned into the demo's
  pre-hash here, from the stored username exactly as the demo had it, so every legacy user can
  sign in that way, whatever the case of the username or the characters of the password;
- after the first success the account is upgraded to a plain `argon2id(prehash_v1)` and is from
  then on an ordinary account.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Literal

from signin.accounts.usernames import canon, username_problems
from signin.crypto.passwords import PasswordHasher
from signin.crypto.prehash import is_prehash, prehash_v1
from signin.stores.base import UserRecord, UserStore

MARK = "demo-v1:"

SkipReason = Literal["invalid_username", "malformed_hash", "duplicate", "exists"]
REASONS: dict[SkipReason, str] = {
    "invalid_username": "invalid username (3-32 letters, digits, '.', '_', '-')",
    "malformed_hash": "password_hash is not a v1 pre-hash ($1$<88 base64 chars>$)",
    "duplicate": "same username (by canonical form) as an earlier row in the file",
    "exists": "an account with this username already exists here",
}


def demo_bytes(text: str) -> bytes:
    """The demo's text-to-bytes: each UTF-16 code unit truncated to its low byte."""
    return text.encode("utf-16-le", "surrogatepass")[::2]


def demo_prehash(username: str, password: str) -> str:
    """The pre-hash the demo's browser computed for this username and password as typed."""
    digest = hashlib.sha512(demo_bytes(username + password)).digest()
    return "$1$" + base64.b64encode(digest).decode("ascii") + "$"


def mark(phc: str) -> str:
    return MARK + phc


def is_marked(stored: str) -> bool:
    return stored.startswith(MARK)


def page_ready(username: str) -> bool:
    """True when the page's pre-hash equals the demo's for ASCII passwords."""
    return username.isascii() and canon(username) == username


def skip_reason(username: object, password_hash: object) -> SkipReason | None:
    """Why a demo row cannot become an account on its own (duplicates are judged elsewhere).

    The demo checked nothing, so either value may be NULL, a number or a blob.
    """
    if not isinstance(username, str) or username_problems(username):
        return "invalid_username"
    if not isinstance(password_hash, str) or not is_prehash(password_hash):
        return "malformed_hash"
    return None


async def verify_legacy(
    users: UserStore, hasher: PasswordHasher, user: UserRecord, password: str
) -> bool:
    """Check a password against an imported (marked) hash; upgrade the account on success.

    Raises `HasherBusy` like the hasher does; the caller maps it.
    """
    inner = user.password_hash[len(MARK) :]
    if is_prehash(password):
        ok, rehashed = await hasher.verify(inner, password)
        if ok:  # the page's pre-hash is the demo's: the inner hash is already an ordinary one
            await users.set_password_hash(user.id, rehashed or inner, 0.0, rehash_only=True)
        return ok
    ok, _ = await hasher.verify(inner, demo_prehash(user.username, password))
    if ok:  # we hold the password now, so store what the page will send from here on
        upgraded = await hasher.hash(prehash_v1(user.username, password))
        await users.set_password_hash(user.id, upgraded, 0.0, rehash_only=True)
    return ok
