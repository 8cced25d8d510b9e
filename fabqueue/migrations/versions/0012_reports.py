"""indexes for the activity reports: jobs by closing time, events by kind and time

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-07 06:10:00

A yearly report reads the jobs that closed in the year and the operator's « bad »
judgements in it; without these it scans every job and every event ever recorded,
which grows by tens of thousands a year on a busy network.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_finished_at", ["finished_at"], unique=False)
    with op.batch_alter_table("job_event", schema=None) as batch_op:
        batch_op.create_index("ix_job_event_to_state_at", ["to_state", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_event", schema=None) as batch_op:
        batch_op.drop_index("ix_job_event_to_state_at")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_finished_at")
