"""Second factors, one module per kind, behind the pending-sign-in flow (STYLE 14 and 15).

Their room (DESIGN.md, "Wave 2 layout"): `totp.py` (RFC 6238 codes), `recovery.py` (one-time
recovery codes) and `passkeys.py` (the ceremony glue around py_webauthn). Each leaves the
cryptography to its library and keeps challenges, storage and policy here; what a sign-in still
requires is decided in one place in `accounts/`, never in `web/`.
"""
