"""node lease: which process runs each node; indexes for the job list's filters

Revision ID: 0005_lease
Revises: 0003
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0005_lease"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_lease",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node"),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_owner_recent", ["owner_id", "id"], unique=False)
        batch_op.create_index("ix_job_state_recent", ["state", "id"], unique=False)
        batch_op.create_index("ix_job_machine", ["machine"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_machine")
        batch_op.drop_index("ix_job_state_recent")
        batch_op.drop_index("ix_job_owner_recent")
    op.drop_table("node_lease")
