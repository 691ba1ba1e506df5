"""OpenID Connect clients: the `[[client]]` tables of `SIGNIN_OIDC_CLIENTS`, checked once at start.

Every mistake stops the load with one line naming the file and the client (`ClientsError`),
like the access rules. Redirect URIs are matched exactly (no wildcard, no prefix), so a client
can only ever receive codes at an address its operator wrote down.

Client secrets are generated here (256 bits from `secrets`) and only their SHA-256 is kept, as
`sha256:<hex>`. A slow password hash (argon2) would add tens of milliseconds to every token
request for no gain: a 256-bit random secret cannot be guessed, so a fast digest compared in
constant time is as strong as the secret itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from signin.accounts.access.groups import GROUP_RE
from signin.accounts.errors import SigninError
from signin.accounts.tomlfile import read_toml

SCOPES = ("openid", "profile", "email", "groups", "offline_access")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
SIGNING_ALGS = ("RS256", "ES256", "Ed25519")
KEYS = frozenset(
    {
        "id",
        "name",
        "redirect_uris",
        "post_logout_redirect_uris",
        "secret_hash",
        "scopes",
        "groups",
        "require_two_factor",
        "consent",
        "offline_access",
        "token_endpoint_auth_method",
        "id_token_signed_response_alg",
        "backchannel_logout_uri",
    }
)
ID_RE = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# A native app's own scheme: a reverse domain name, so never javascript:, data: or file: (the
# period is what RFC 8252 7.1 asks for). Browsers hand such URIs to the app that claims them.
PRIVATE_USE_SCHEME = re.compile(r"[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+")
Consent = Literal["remember", "skip"]


class ClientsError(SigninError):
    """The OIDC clients file is not valid."""

    code = "oidc_clients"


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()
    secret_hash: str | None = None
    scopes: tuple[str, ...] = SCOPES
    groups: frozenset[str] | None = None  # None: everyone
    require_two_factor: bool = False
    consent: Consent = "remember"
    offline_access: bool = False
    token_endpoint_auth_method: str = "none"  # noqa: S105 (a method's name)
    id_token_signed_response_alg: str = "RS256"  # noqa: S105
    backchannel_logout_uri: str | None = None

    @property
    def confidential(self) -> bool:
        return self.secret_hash is not None

    def check_secret(self, secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(hash_secret(secret), self.secret_hash)

    def admits(self, groups: tuple[str, ...]) -> bool:
        return self.groups is None or bool(self.groups.intersection(groups))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def load_clients(path: Path) -> dict[str, Client]:
    """Read and check the file; `ClientsError` (one line) on the first problem."""
    return parse_clients(read_toml(path, ClientsError), str(path))


def parse_clients(data: dict[str, Any], source: str) -> dict[str, Client]:
    extra = set(data) - {"client"}
    if extra:
        raise ClientsError(f"{source}: unknown top-level key {sorted(extra)[0]!r} (use [[client]])")
    tables = data.get("client", [])
    if not isinstance(tables, list):
        raise ClientsError(f"{source}: 'client' must be an array of tables: write [[client]]")
    clients: dict[str, Client] = {}
    for number, table in enumerate(tables, start=1):
        name = table.get("id") if isinstance(table, dict) else None
        label = f"client {name!r}" if isinstance(name, str) and name else f"client {number}"
        try:
            client = _client(table)
        except ValueError as exc:
            raise ClientsError(f"{source}: {label}: {exc}") from None
        if client.id in clients:
            raise ClientsError(f"{source}: {label}: the id is used twice")
        clients[client.id] = client
    return clients


def _strings(table: dict[str, Any], key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    value = table.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key} must be a list of strings")
    return tuple(value)


def _uri(uri: str, key: str, *, native: bool = False) -> str:
    """An exact http(s) URL; with `native`, also a native app's private-use scheme URI."""
    parts = urlsplit(uri)
    if native and PRIVATE_USE_SCHEME.fullmatch(uri.split(":", 1)[0]):
        pass  # RFC 8252 7.1: `com.example.app:/callback`, a reverse domain name as the scheme
    elif parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(
            f"{key}: {uri!r} is not an absolute http(s) URL"
            + (" or a private-use scheme URI such as com.example.app:/callback" if native else "")
        )
    if parts.fragment or "#" in uri:
        raise ValueError(f"{key}: {uri!r} has a fragment")
    if "*" in uri or any(ord(char) < 33 for char in uri):
        raise ValueError(f"{key}: {uri!r} holds a wildcard, space or control character")
    return uri


def _client(table: Any) -> Client:
    if not isinstance(table, dict):
        raise ValueError("must be a table")
    unknown = set(table) - KEYS
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}")
    client_id = table.get("id")
    if not isinstance(client_id, str) or not ID_RE.match(client_id):
        raise ValueError("id must be 1-64 characters of letters, digits, '.', '_', '~', '-'")
    name = table.get("name", client_id)
    if not isinstance(name, str) or not 0 < len(name) <= 100:
        raise ValueError("name must be a string of 1-100 characters")
    redirect_uris = tuple(
        _uri(u, "redirect_uris", native=True) for u in _strings(table, "redirect_uris")
    )
    if not redirect_uris:
        raise ValueError("redirect_uris must list at least one URL")
    logout_uris = _strings(table, "post_logout_redirect_uris")
    logout_uris = tuple(_uri(u, "post_logout_redirect_uris", native=True) for u in logout_uris)
    secret_hash = table.get("secret_hash")
    if secret_hash is not None and (
        not isinstance(secret_hash, str) or not HASH_RE.match(secret_hash)
    ):
        raise ValueError(
            "secret_hash must be 'sha256:' and 64 hex digits (signin oidc clients secret)"
        )
    scopes = _strings(table, "scopes", SCOPES)
    bad = [scope for scope in scopes if scope not in SCOPES]
    if bad or "openid" not in scopes:
        raise ValueError(f"scopes must include 'openid' and only {', '.join(SCOPES)}")
    groups = table.get("groups")
    if groups is not None:
        groups = frozenset(_strings(table, "groups"))
        if not all(GROUP_RE.fullmatch(group) for group in groups):
            raise ValueError("groups must be names of [a-z0-9_-]{1,32}")
    flags = {key: table.get(key, False) for key in ("require_two_factor", "offline_access")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false")
    consent = table.get("consent", "remember")
    if consent not in ("remember", "skip"):
        raise ValueError("consent must be 'remember' or 'skip'")
    default_method = "client_secret_basic" if secret_hash else "none"
    method = table.get("token_endpoint_auth_method", default_method)
    if method not in AUTH_METHODS:
        raise ValueError(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
    if (method == "none") != (secret_hash is None):
        raise ValueError("token_endpoint_auth_method 'none' is for clients without secret_hash")
    backchannel = table.get("backchannel_logout_uri")
    if backchannel is not None:
        if not isinstance(backchannel, str):
            raise ValueError("backchannel_logout_uri must be a URL")
        backchannel = _uri(backchannel, "backchannel_logout_uri")
    alg = table.get("id_token_signed_response_alg", "RS256")
    if alg not in SIGNING_ALGS:
        raise ValueError(f"id_token_signed_response_alg must be one of {', '.join(SIGNING_ALGS)}")
    return Client(
        id=client_id,
        name=name,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=logout_uris,
        secret_hash=secret_hash,
        scopes=scopes,
        groups=groups,
        require_two_factor=flags["require_two_factor"],
        consent=consent,
        offline_access=flags["offline_access"],
        token_endpoint_auth_method=method,
        id_token_signed_response_alg=alg,
        backchannel_logout_uri=backchannel,
    )
