"""The provider's signing keys: one RS256, one ES256 and one Ed25519 key in a JSON file (0600).

The file (`SIGNIN_OIDC_KEYS_FILE`, default `DATA_DIR/oidc-keys.json`) is created on first start,
atomically and never overwritten, like `secret.key`. Several instances share it (the same file on
shared storage, or a copy made after every rotation), so they publish the same JWKS. The file is
read again whenever its modification time changes: a rotation reaches a running server without a
restart.

`rotate` adds a new key per algorithm and retires the old ones: a retired key signs nothing but
stays in the JWKS for `publish_seconds` (the life of the tokens it signed), then is dropped at
the next rotation. All JOSE work (key generation, JWK export, signing, verification) is joserfc.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from signin.accounts.clock import Clock
from signin.accounts.errors import SigninError

ALGS = ("RS256", "ES256", "Ed25519")
GenericKey = RSAKey | ECKey | OKPKey


class KeysError(SigninError):
    """The key file cannot be read, written or trusted."""

    code = "oidc_keys"


@dataclass(frozen=True)
class SigningKey:
    key: GenericKey
    alg: str
    created_at: float
    retired_at: float | None

    @property
    def kid(self) -> str:
        return str(self.key.kid)


def generate(alg: str) -> GenericKey:
    parameters: Any = {"alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters, auto_kid=True)
    return OKPKey.generate_key("Ed25519", parameters=parameters, auto_kid=True)


class ProviderKeys:
    def __init__(self, path: Path, *, publish_seconds: int, clock: Clock) -> None:
        self.path = path
        self.publish_seconds = publish_seconds
        self.clock = clock
        self._keys: list[SigningKey] = []
        self._mtime: int | None = None

    # -- the file ------------------------------------------------------------------------

    def load(self) -> list[SigningKey]:
        """The keys, the file made first when missing; `KeysError` (one line) when unusable."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._create([self._new(alg) for alg in ALGS])
            info = self.path.stat()
        except OSError as exc:
            raise KeysError(f"{self.path}: cannot read: {exc.strerror}") from None
        if info.st_mtime_ns != self._mtime:
            if not stat.S_ISREG(info.st_mode):
                raise KeysError(f"{self.path}: not a file")
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeysError(f"{self.path}: readable by others; run chmod 600 {self.path}")
            self._keys = self._read()
            self._mtime = info.st_mtime_ns
        return self._keys

    def _new(self, alg: str) -> SigningKey:
        return SigningKey(generate(alg), alg, self.clock(), None)

    def _read(self) -> list[SigningKey]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [
                SigningKey(
                    _import(entry["jwk"]),
                    entry["jwk"]["alg"],
                    entry["created_at"],
                    entry["retired_at"],
                )
                for entry in data["keys"]
            ]
        except OSError as exc:
            raise KeysError(f"{self.path}: cannot read: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError, JoseError) as exc:
            raise KeysError(f"{self.path}: not a signin key file ({exc})") from None

    def _text(self, keys: list[SigningKey]) -> str:
        entries = [
            {
                "jwk": item.key.as_dict(private=True),
                "created_at": item.created_at,
                "retired_at": item.retired_at,
            }
            for item in keys
        ]
        return json.dumps({"keys": entries}, indent=1)

    def _write_temp(self, keys: list[SigningKey]) -> Path:
        self.path.parent.mkdir(mode=0o700, exist_ok=True)  # the data dir; not a mistyped tree
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(self._text(keys))
            file.flush()
            os.fsync(file.fileno())
        return temp

    def _create(self, keys: list[SigningKey]) -> None:
        """Create the file whole or not at all; a second process starting at once keeps ours."""
        try:
            temp = self._write_temp(keys)
        except OSError as exc:
            raise KeysError(f"{self.path}: cannot create: {exc.strerror}") from None
        try:
            os.link(temp, self.path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise KeysError(f"{self.path}: cannot create: {exc.strerror}") from None
        finally:
            temp.unlink(missing_ok=True)

    def rotate(self) -> list[SigningKey]:
        """New keys sign from now on; old ones stay published while their tokens live."""
        now = self.clock()
        kept = [
            item
            if item.retired_at is not None
            else SigningKey(item.key, item.alg, item.created_at, now)
            for item in self.load()
            if item.retired_at is None or now < item.retired_at + self.publish_seconds
        ]
        keys = [self._new(alg) for alg in ALGS] + kept
        try:
            temp = self._write_temp(keys)
            os.replace(temp, self.path)
        except OSError as exc:
            raise KeysError(f"{self.path}: cannot write: {exc.strerror}") from None
        return self.load()

    # -- use -----------------------------------------------------------------------------

    def published(self) -> list[SigningKey]:
        now = self.clock()
        return [
            item
            for item in self.load()
            if item.retired_at is None or now < item.retired_at + self.publish_seconds
        ]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [item.key.as_dict(private=False) for item in self.published()]}

    def sign(self, claims: dict[str, Any], alg: str, *, typ: str = "JWT") -> str:
        current = [item for item in self.load() if item.alg == alg and item.retired_at is None]
        if not current:
            raise KeysError(f"{self.path}: no current {alg} key")
        newest = max(current, key=lambda item: item.created_at)
        header = {"alg": alg, "kid": newest.kid, "typ": typ}
        return jwt.encode(header, claims, newest.key, algorithms=[alg])

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a JWT one of our published keys signed (expired or not), else None.

        Only our algorithms are accepted: `alg=none` and HMAC tricks fail here.
        """
        keys = KeySet([item.key for item in self.published()])
        try:
            claims: dict[str, Any] = jwt.decode(token, keys, algorithms=list(ALGS)).claims
        except (JoseError, ValueError, TypeError):
            return None
        return claims


def _import(data: dict[str, Any]) -> GenericKey:
    kty = data.get("kty")
    if kty == "RSA":
        return RSAKey.import_key(data)
    if kty == "EC":
        return ECKey.import_key(data)
    if kty == "OKP":
        return OKPKey.import_key(data)
    raise ValueError(f"unknown key type {kty!r}")
