"""pages: passwords, PINs and language of people; a walk-in customer on a job; why a machine is out of service

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pin_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_name", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("customer_contact", sa.String(length=200), nullable=True))
    with op.batch_alter_table("machine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_note", sa.String(length=300), nullable=True))


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding a table that others reference
    # would trip its foreign keys as soon as it holds rows.
    with op.batch_alter_table("machine", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("service_note")
    with op.batch_alter_table("job", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("customer_contact")
        batch_op.drop_column("customer_name")
    with op.batch_alter_table("app_user", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("locale")
        batch_op.drop_column("pin_hash")
        batch_op.drop_column("password_hash")
