"""files stored in the database (chunks), machines' durable out-of-service wish

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-07 06:10:00

PostgreSQL keeps chunks as ``bytea`` (about 1 MiB each); on SQLite the tables exist but
the folder store is used. Existing files move with ``fabqueue storage migrate``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0005_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "file_chunk",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "seq"),
    )
    with op.batch_alter_table("machine", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("out_of_service", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding a table that others reference
    # would trip its foreign keys as soon as it holds rows.
    with op.batch_alter_table("machine", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("out_of_service")
    op.drop_table("file_chunk")
    op.drop_table("file_blob")
