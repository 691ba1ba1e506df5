"""Usernames' confusable skeletons (UTS #39), unique, so look-alike names cannot sign up.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Existing accounts get their skeleton in id order. Where an older account already has the same
skeleton, the younger one keeps NULL (several NULLs never collide): both accounts stay as they
are, and no new sign-up can take a third look-alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from signin.accounts.lookalikes import skeleton

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("username_skeleton", sa.String),
)


def upgrade() -> None:
    op.add_column("users", sa.Column("username_skeleton", sa.String(512)))
    conn = op.get_bind()
    seen: set[str] = set()
    rows = conn.execute(sa.select(_users.c.id, _users.c.username).order_by(_users.c.id))
    for user_id, username in rows.fetchall():
        value = skeleton(username)
        if value in seen:
            continue
        seen.add(value)
        conn.execute(_users.update().where(_users.c.id == user_id).values(username_skeleton=value))
    op.create_index("uq_users_username_skeleton", "users", ["username_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_username_skeleton", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("username_skeleton")
