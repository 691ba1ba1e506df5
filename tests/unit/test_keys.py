"""Secrets (SPEC section 10): HKDF per purpose, the secret.key file, rotation with fallbacks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from signin.crypto.keys import KeyRing, SecretKeyError, hkdf_sha256, load_or_create_key_file
from signin.crypto.signing import CsrfSigner, RedirectSigner

OLD = "o" * 40
NEW = "n" * 40


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        (  # RFC 5869 A.1
            bytes([0x0B] * 22),
            bytes(range(0x00, 0x0D)),
            bytes(range(0xF0, 0xFA)),
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (  # RFC 5869 A.2: long inputs, output longer than two blocks
            bytes(range(0x00, 0x50)),
            bytes(range(0x60, 0xB0)),
            bytes(range(0xB0, 0x100)),
            82,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (  # RFC 5869 A.3: no salt, no info
            bytes([0x0B] * 22),
            b"",
            b"",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
)
def test_hkdf_rfc5869(ikm: bytes, salt: bytes, info: bytes, length: int, okm: str) -> None:
    assert hkdf_sha256(ikm, info, length, salt).hex() == okm


def test_each_purpose_has_its_own_key() -> None:
    ring = KeyRing(NEW)
    purposes = ["redirect", "csrf", "session", "reset", "verify", "email-link"]
    keys = {ring.derive(p) for p in purposes}  # type: ignore[arg-type]
    assert len(keys) == len(purposes)
    assert all(len(key) == 32 for key in keys)
    assert ring.derive("csrf") != KeyRing(OLD).derive("csrf")
    assert ring.derive("csrf") == KeyRing(NEW).derive("csrf")  # deterministic


def test_redirect_signature_verifies_under_fallback_key() -> None:
    old_sig = RedirectSigner(KeyRing(OLD)).sign("/welcome")
    rotated = RedirectSigner(KeyRing(NEW, (OLD,)))
    assert rotated.verify("/welcome", old_sig)
    assert not rotated.verify("/other", old_sig)
    assert not RedirectSigner(KeyRing(NEW)).verify("/welcome", old_sig)  # fallback dropped
    # The newest key signs.
    assert rotated.sign("/welcome") == RedirectSigner(KeyRing(NEW)).sign("/welcome")
    assert rotated.sign("/welcome") != old_sig


def test_redirect_signature_rejects_garbage() -> None:
    signer = RedirectSigner(KeyRing(NEW))
    assert not signer.verify("/welcome", "")
    assert not signer.verify("/welcome", "é")
    assert not signer.verify("/welcome", "AAAA")


def test_csrf_token_verifies_under_fallback_and_is_bound_to_browser() -> None:
    token = CsrfSigner(KeyRing(OLD), max_age=60).token_for("browser-a")
    rotated = CsrfSigner(KeyRing(NEW, (OLD,)), max_age=60)
    assert rotated.check(token, "browser-a")
    assert not rotated.check(token, "browser-b")
    assert not CsrfSigner(KeyRing(NEW), max_age=60).check(token, "browser-a")
    assert not rotated.check(token + "x", "browser-a")
    # A redirect signature is not a CSRF token: keys differ per purpose.
    assert not rotated.check(RedirectSigner(KeyRing(NEW)).sign("browser-a"), "browser-a")


def test_key_file_created_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = load_or_create_key_file(data)
    path = data / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert path.read_text().strip() == key
    # No temporary file is left behind.
    assert sorted(p.name for p in data.iterdir()) == ["secret.key"]


def test_key_file_never_overwritten(tmp_path: Path) -> None:
    first = load_or_create_key_file(tmp_path)
    inode = (tmp_path / "secret.key").stat().st_ino
    assert load_or_create_key_file(tmp_path) == first
    assert (tmp_path / "secret.key").stat().st_ino == inode


def test_existing_key_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("k" * 40 + "\n")
    path.chmod(0o600)
    assert load_or_create_key_file(tmp_path) == "k" * 40


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    load_or_create_key_file(tmp_path)
    (tmp_path / "secret.key").chmod(mode)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_or_create_key_file(tmp_path)


def test_short_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(SecretKeyError, match="fewer than 32"):
        load_or_create_key_file(tmp_path)


def test_unreadable_path_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "secret.key").mkdir(mode=0o700)  # a directory where the file should be
    with pytest.raises(SecretKeyError, match="cannot use"):
        load_or_create_key_file(tmp_path)
