"""OpenID Connect provider: subjects, codes, token families (grants), tokens and consents.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Codes, access and refresh tokens are stored as their SHA-256 only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "oidc_subjects",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("sub", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_oidc_subjects"),
        sa.UniqueConstraint("sub", name="uq_oidc_subjects_sub"),
        _user_fk("oidc_subjects"),
    )
    op.create_table(
        "oidc_codes",
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("redirect_uri", sa.String(2048), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("nonce", sa.String(512)),
        sa.Column("code_challenge", sa.String(128)),
        sa.Column("code_challenge_method", sa.String(8)),
        sa.Column("auth_time", sa.Float, nullable=False),
        sa.Column("amr", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(32)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),
        sa.Column("grant_id", sa.String(32)),
        sa.PrimaryKeyConstraint("code_hash", name="pk_oidc_codes"),
        _user_fk("oidc_codes"),
    )
    op.create_index("ix_oidc_codes_expires_at", "oidc_codes", ["expires_at"])
    op.create_table(
        "oidc_grants",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("auth_time", sa.Float, nullable=False),
        sa.Column("amr", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(32)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_grants"),
        _user_fk("oidc_grants"),
    )
    op.create_index("ix_oidc_grants_user_id", "oidc_grants", ["user_id"])
    op.create_index("ix_oidc_grants_expires_at", "oidc_grants", ["expires_at"])
    op.create_table(
        "oidc_tokens",
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("grant_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),
        sa.PrimaryKeyConstraint("token_hash", name="pk_oidc_tokens"),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["oidc_grants.id"], name="fk_oidc_tokens_grant_id", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_oidc_tokens_grant_id", "oidc_tokens", ["grant_id"])
    op.create_table(
        "oidc_consents",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "client_id", name="pk_oidc_consents"),
        _user_fk("oidc_consents"),
    )


def downgrade() -> None:
    for table in ("oidc_consents", "oidc_tokens", "oidc_grants", "oidc_codes", "oidc_subjects"):
        op.drop_table(table)
