"""An OIDC token's own scope: a refresh may ask for less than its grant (RFC 6749 section 6).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

NULL (every existing token, and every token issued with its grant's whole scope) means the
grant's scope.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("oidc_tokens", sa.Column("scope", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("oidc_tokens") as batch:
        batch.drop_column("scope")
