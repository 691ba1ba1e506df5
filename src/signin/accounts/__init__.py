"""The domain: sign-up, sign-in, lock policy, sessions, tokens. No web framework, no driver."""
