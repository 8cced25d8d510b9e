"""machine events (emergency stop) and the pending emergency stop of a machine

Revision ID: 0004_core
Revises: 0003
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_core"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("machine", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("emergency_stop_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "machine_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["machine"], ["machine.slug"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("machine_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_machine_event_machine"), ["machine"], unique=False
        )


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding a table that others reference
    # would trip its foreign keys as soon as it holds rows.
    with op.batch_alter_table("machine_event", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_machine_event_machine"))
    op.drop_table("machine_event")
    with op.batch_alter_table("machine", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("emergency_stop_at")
