"""TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps) around pyotp, and the enrolment QR code.

pyotp computes the codes; which step a code matches, and that each step is used once per
account, is ours (`matching_step` here, the atomic `FactorStore.use_step` in the store).
"""

from __future__ import annotations

import hmac
import io

import pyotp

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of now: a code typed just as it changed, clock drift


def new_secret() -> str:
    """A fresh base32 secret of 160 bits (RFC 4226 recommends at least 128)."""
    return pyotp.random_base32(32)


def step_at(now: float) -> int:
    return int(now // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def normalize(code: str) -> str:
    """Digits only: people type `123 456` or `123-456`."""
    return "".join(ch for ch in code if not ch.isspace() and ch != "-")


def looks_like_code(code: str) -> bool:
    text = normalize(code)
    return len(text) == DIGITS and text.isascii() and text.isdigit()


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The step within ±WINDOW of `now` whose code `code` is, newest first; None if none is."""
    if not looks_like_code(code):
        return None
    text = normalize(code)
    current = step_at(now)
    found = None
    for step in range(current + WINDOW, current - WINDOW - 1, -1):
        # Every candidate is compared, found or not: the time taken does not say which matched.
        if hmac.compare_digest(code_at(secret, step), text) and found is None:
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The `otpauth://` URI as an inline SVG (no script, no external reference)."""
    import segno  # only enrolment draws a code: loaded then, not with the services

    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True, title="TOTP QR code"
    )
    return out.getvalue().decode("utf-8")
