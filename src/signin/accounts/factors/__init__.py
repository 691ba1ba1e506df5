"""Second factors (SPEC 13): TOTP, recovery codes, and the sign-in flow that asks for them."""
