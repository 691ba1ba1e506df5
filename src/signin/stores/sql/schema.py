"""Table definitions; Alembic migrations in `signin/stores/migrations` create exactly these."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("username_canon", sa.String(128), nullable=False, unique=True),
    # NULL only for accounts older than migration 0006 whose skeleton an older account had.
    sa.Column("username_skeleton", sa.String(512)),
    sa.Column("email", sa.String(320)),
    sa.Column("email_canon", sa.String(320), unique=True),
    sa.Column("email_verified_at", sa.Float),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("password_changed_at", sa.Float, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    # Group names, sorted, comma-separated: read by the session lookup's join (no second query).
    sa.Column("groups", sa.String(1200), nullable=False, server_default=""),
    # The catalogue code (signin/i18n) the user last used on the site: their mails' language.
    sa.Column("language", sa.String(16)),
)
# A unique index (not a constraint): SQLite adds one to an existing table without a rebuild.
sa.Index("uq_users_username_skeleton", users.c.username_skeleton, unique=True)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
    sa.Column("idle_seconds", sa.Integer),
    sa.Column("remember", sa.Boolean, nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("two_factor", sa.Boolean, nullable=False, server_default=sa.false()),
)

fail_locks = sa.Table(
    "fail_locks",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_attempt", sa.Float, nullable=False, index=True),
)

one_time_tokens = sa.Table(
    "one_time_tokens",
    metadata,
    sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("stamp", sa.String(400), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float),
)

# Passkeys (SPEC section 14): one row per WebAuthn credential. `credential_id` is what the browser
# names in an assertion (at most 1023 bytes), `user_handle` the random WebAuthn user id that every
# passkey of one user shares, `sign_count` the authenticator's counter (0 = it keeps none).
passkeys = sa.Table(
    "passkeys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("credential_id", sa.LargeBinary(1023), nullable=False, unique=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("sign_count", sa.BigInteger, nullable=False),
    sa.Column("user_handle", sa.LargeBinary(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("transports", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float),
)

# Challenge ids already answered: a row makes a second answer to the same challenge fail (the
# primary key refuses it atomically). Rows are purged once their challenge has expired.
passkey_challenges = sa.Table(
    "passkey_challenges",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("email", sa.String(320)),
    sa.Column("email_canon", sa.String(320)),
    sa.Column("groups", sa.String(1200), nullable=False, server_default=""),
    sa.Column("max_uses", sa.Integer, nullable=False),
    sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("username", sa.String(128)),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("details", sa.Text, nullable=False),
    sa.Index("ix_audit_events_username_at", "username", "at"),
)

# SPEC 13: one TOTP factor per user. `secret` is AES-GCM ciphertext (crypto/sealing.py);
# `confirmed_at` is NULL while enrolment waits for its first code; `last_step` is the newest
# time step used, so each step signs in at most once (one conditional UPDATE).
totp_factors = sa.Table(
    "totp_factors",
    metadata,
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("secret", sa.LargeBinary(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("confirmed_at", sa.Float),
    sa.Column("last_step", sa.BigInteger),
)

# Recovery codes, stored as keyed hashes (accounts/factors/recovery.py); each used once.
recovery_codes = sa.Table(
    "recovery_codes",
    metadata,
    sa.Column("code_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float),
)

# OpenID Connect provider (migration 0007). Codes and tokens are kept as SHA-256 digests.
oidc_subjects = sa.Table(
    "oidc_subjects",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("sub", sa.String(64), nullable=False, unique=True),
)

oidc_codes = sa.Table(
    "oidc_codes",
    metadata,
    sa.Column("code_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("redirect_uri", sa.String(2048), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("nonce", sa.String(512)),
    sa.Column("code_challenge", sa.String(128)),
    sa.Column("code_challenge_method", sa.String(8)),
    sa.Column("auth_time", sa.Float, nullable=False),
    sa.Column("amr", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(32)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
    sa.Column("used_at", sa.Float),
    sa.Column("grant_id", sa.String(32)),
)

oidc_grants = sa.Table(
    "oidc_grants",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("auth_time", sa.Float, nullable=False),
    sa.Column("amr", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(32)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
    sa.Column("revoked_at", sa.Float),
)

oidc_tokens = sa.Table(
    "oidc_tokens",
    metadata,
    sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column(
        "grant_id",
        sa.String(32),
        sa.ForeignKey("oidc_grants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float),
    sa.Column("scope", sa.String(200)),  # NULL: the grant's; narrower after a refresh asked so
)

oidc_consents = sa.Table(
    "oidc_consents",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
