"""SPEC 13 building blocks: the TOTP window, sealing secrets at rest, recovery-code hashing."""

from __future__ import annotations

import pytest

from signin.accounts.factors import recovery, totp
from signin.crypto.keys import KeyRing
from signin.crypto.sealing import SealBroken, SecretBox

OLD = "o" * 40
NEW = "n" * 40
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_800_000_015.0  # 15 s into a step


def test_rfc6238_sha1_vector() -> None:
    """RFC 6238 appendix B, T = 59 s: 94287082 (8 digits), whose last six are ours."""
    rfc_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # b"12345678901234567890"
    assert totp.code_at(rfc_secret, totp.step_at(59)) == "287082"


def test_codes_match_within_one_step_either_side() -> None:
    now_step = totp.step_at(NOW)
    for offset in (-1, 0, 1):
        code = totp.code_at(SECRET, now_step + offset)
        assert totp.matching_step(SECRET, code, NOW) == now_step + offset


def test_codes_two_steps_away_are_refused() -> None:
    now_step = totp.step_at(NOW)
    for offset in (-2, 2):
        code = totp.code_at(SECRET, now_step + offset)
        if code not in {totp.code_at(SECRET, now_step + d) for d in (-1, 0, 1)}:
            assert totp.matching_step(SECRET, code, NOW) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "１２３４５６", "12 34 5"])
def test_malformed_codes_never_match(typed: str) -> None:
    assert totp.matching_step(SECRET, typed, NOW) is None


def test_spaces_and_dashes_are_ignored() -> None:
    code = totp.code_at(SECRET, totp.step_at(NOW))
    assert totp.matching_step(SECRET, f"{code[:3]} {code[3:]}", NOW) == totp.step_at(NOW)
    assert totp.matching_step(SECRET, f"{code[:3]}-{code[3:]}", NOW) == totp.step_at(NOW)


def test_new_secrets_are_160_bit_base32() -> None:
    secrets = {totp.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(s) == 32 and s.isalnum() and s.isupper() for s in secrets)


def test_qr_code_is_plain_svg_of_the_uri() -> None:
    uri = totp.provisioning_uri(SECRET, "Zoë", "signin")
    assert uri.startswith("otpauth://totp/signin:Zo%C3%AB?secret=" + SECRET)
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg")
    assert "<script" not in svg
    assert "href" not in svg


def test_sealed_secret_round_trip() -> None:
    box = SecretBox(KeyRing(NEW), "totp")
    sealed = box.seal(SECRET.encode(), b"totp:1")
    assert SECRET.encode() not in sealed
    opened = box.open(sealed, b"totp:1")
    assert opened.plaintext == SECRET.encode()
    assert opened.needs_reseal is False
    assert box.seal(SECRET.encode(), b"totp:1") != sealed  # a fresh nonce each time


def test_sealed_secret_is_bound_to_its_owner_and_untampered() -> None:
    box = SecretBox(KeyRing(NEW), "totp")
    sealed = box.seal(SECRET.encode(), b"totp:1")
    with pytest.raises(SealBroken):
        box.open(sealed, b"totp:2")
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealBroken):
        box.open(flipped, b"totp:1")
    with pytest.raises(SealBroken):
        box.open(b"\x01short", b"totp:1")


def test_key_rotation_with_fallbacks() -> None:
    """Sealed under the old secret: opens once the old secret is a fallback, not without."""
    sealed = SecretBox(KeyRing(OLD), "totp").seal(SECRET.encode(), b"totp:1")
    rotated = SecretBox(KeyRing(NEW, (OLD,)), "totp").open(sealed, b"totp:1")
    assert rotated.plaintext == SECRET.encode()
    assert rotated.needs_reseal is True
    with pytest.raises(SealBroken):
        SecretBox(KeyRing(NEW), "totp").open(sealed, b"totp:1")


def test_the_totp_key_is_its_own() -> None:
    sealed = SecretBox(KeyRing(NEW), "totp").seal(SECRET.encode(), b"totp:1")
    with pytest.raises(SealBroken):
        SecretBox(KeyRing(NEW), "recovery").open(sealed, b"totp:1")


def test_recovery_codes_have_50_bits_and_the_shown_form() -> None:
    codes = recovery.new_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert len(code) == 11
        assert code[5] == "-"
        assert recovery.normalize(code) == code.replace("-", "")
    assert len(recovery.ALPHABET) ** recovery.SYMBOLS >= 2**50


def test_recovery_input_is_forgiving_but_strict() -> None:
    assert recovery.normalize(" ABCDE-fghij ") == "abcdefghij"
    assert recovery.normalize("abcde fghij") == "abcdefghij"
    assert recovery.normalize("abcde-fghi") is None
    assert recovery.normalize("abcde-fghi1") is None  # '1' is not in the alphabet
    assert recovery.normalize("123456") is None


def test_recovery_hashes_are_keyed_and_rotate() -> None:
    old = recovery.RecoveryHasher(KeyRing(OLD))
    rotated = recovery.RecoveryHasher(KeyRing(NEW, (OLD,)))
    stored = old.hash("abcde-fghij")
    assert stored in rotated.candidates("ABCDE fghij")
    assert stored not in recovery.RecoveryHasher(KeyRing(NEW)).candidates("abcde-fghij")
    assert rotated.candidates("nope") == []
