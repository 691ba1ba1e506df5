"""Pure cryptography: pre-hash, argon2id, key derivation, signing. No network, no database."""
