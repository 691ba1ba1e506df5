"""Each user's language: the one they last used on the site, in which their mails are written.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

NULL (every existing account) means "never chosen": mails then use SIGNIN_DEFAULT_LANGUAGE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
