"""api_token.prefix: the first characters of a token, to recognise it in a list

Revision ID: 0004_auth
Revises: 0003
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_auth"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tokens issued before this revision have no prefix: they are revoked by id or label.
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prefix", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding a table that others reference
    # would trip its foreign keys as soon as it holds rows.
    with op.batch_alter_table("api_token", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("prefix")
