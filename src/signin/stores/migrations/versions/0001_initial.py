"""Initial schema: users, sessions, fail locks, one-time tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("username_canon", sa.String(128), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("email_canon", sa.String(320)),
        sa.Column("email_verified_at", sa.Float),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("password_changed_at", sa.Float, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username_canon", name="uq_users_username_canon"),
        sa.UniqueConstraint("email_canon", name="uq_users_email_canon"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("idle_seconds", sa.Integer),
        sa.Column("remember", sa.Boolean, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(512)),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
        sa.UniqueConstraint("id", name="uq_sessions_id"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sessions_user_id", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "fail_locks",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_attempt", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_fail_locks"),
    )
    op.create_index("ix_fail_locks_last_attempt", "fail_locks", ["last_attempt"])
    op.create_table(
        "one_time_tokens",
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("stamp", sa.String(400), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),
        sa.PrimaryKeyConstraint("token_hash", name="pk_one_time_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_one_time_tokens_user_id", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_one_time_tokens_user_id", "one_time_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("one_time_tokens")
    op.drop_table("fail_locks")
    op.drop_table("sessions")
    op.drop_table("users")
