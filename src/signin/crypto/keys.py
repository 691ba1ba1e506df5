"""The master secret, its file on disk, and one derived key per purpose (HKDF-SHA256).

The secret key file is created once, atomically (written aside, then hard-linked into place) with
mode 0600, and never overwritten. Every purpose gets its own key derived with HKDF (RFC 5869), so
a key leaked from one use (say, a CSRF token) says nothing about another (session or reset tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Purpose = Literal[
    "redirect",
    "csrf",
    "session",
    "reset",
    "verify",
    "email-link",
    "totp",
    "recovery",
    "two-factor",
    "passkey",
    "device",
    "oidc-consent",
    "oidc-sign-in",
]
KEY_FILE = "secret.key"


class SecretKeyError(Exception):
    """The secret key file is unsafe or unreadable; the message says what to do."""


def hkdf_sha256(ikm: bytes, info: bytes, length: int = 32, salt: bytes = b"") -> bytes:
    """HKDF (RFC 5869) with SHA-256: extract, then expand to `length` bytes."""
    if length > 255 * 32:
        raise ValueError("HKDF output too long")
    prk = hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def load_or_create_key_file(data_dir: Path) -> str:
    """Return the master secret from `data_dir/secret.key`, creating it on first use."""
    path = data_dir / KEY_FILE
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            _create_key_file(path)
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretKeyError(
                f"{path} is accessible by group or others (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {path}"
            )
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecretKeyError(f"cannot use {path}: {reason}") from None
    if len(key) < 32:
        raise SecretKeyError(f"{path} holds fewer than 32 characters; delete it to make a new one")
    return key


def _create_key_file(path: Path) -> None:
    """Write the key to a private temporary file, then link it into place.

    `os.link` fails when the name exists, so a key is never overwritten, and a reader (another
    worker starting at the same moment) sees either no file or the complete one, never a
    half-written key.
    """
    key = secrets.token_urlsafe(48) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret.key.")  # mode 0600
    try:
        _write_all(fd, key)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another process won the race; its key is the one
        except OSError:
            # No hard links here (some network file systems): exclusive create is still atomic
            # against a second creator, only a concurrent reader could see a short file.
            try:
                _write_all(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), key)
            except FileExistsError:
                return
        _fsync_dir(path.parent)
    finally:
        os.unlink(tmp)


def _write_all(fd: int, text: str) -> None:
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class KeyRing:
    """The current master secret and older ones that still verify (rotation)."""

    current: str
    fallbacks: tuple[str, ...] = ()

    def derive(self, purpose: Purpose) -> bytes:
        """The signing key for `purpose` under the current secret."""
        return self._derive(self.current, purpose)

    def derive_all(self, purpose: Purpose) -> list[bytes]:
        """Keys for `purpose`, oldest first and current last (the order itsdangerous wants)."""
        return [self._derive(key, purpose) for key in (*reversed(self.fallbacks), self.current)]

    @staticmethod
    def _derive(secret: str, purpose: Purpose) -> bytes:
        return hkdf_sha256(secret.encode("utf-8"), b"signin/v1/" + purpose.encode("ascii"))
