"""the figures of a job's run in plain columns, and the claims of a job by time, for the activity reports

Revision ID: 0015
Revises: 0013_notify
Create Date: 2026-12-07 15:20:00

A yearly report read eight figures out of each job's JSON analysis (50,000 documents
parsed a report on a busy network); they are now columns written when a run ends
(``states.transition``). The upgrade back-fills every job from its analysis, in one
UPDATE the database computes, with the rules of ``reports.figures.quantities``: a
missing or negative figure is unknown, duration and quantities are for all copies,
heat-up and homing are once per run.

(Written as 0015 beside another branch's 0014: the two are chained at the merge.)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The order of reports.figures.COLUMNS / PATHS, frozen here as this revision knew them.
FIGURES = (
    ("run_duration_s", ("duration_s",), "copies"),
    ("run_heatup_s", ("details", "heatup_s"), "zero"),
    ("run_homing_s", ("details", "homing_s"), "zero"),
    ("run_filament_g", ("material", "filament_g"), "copies_zero"),
    ("run_vinyl_mm2", ("material", "vinyl_area_mm2"), "copies_zero"),
    ("run_design_mm2", ("details", "design_area_mm2"), "copies"),
    ("run_thread_m", ("material", "thread_m"), "copies_zero"),
    ("run_purge_g", ("details", "purge_g"), "copies"),
)


def _value(job: Any, path: tuple[str, ...], rule: str) -> Any:
    raw = job.c.analysis[path].as_float()
    known = sa.case((raw >= 0, raw), else_=sa.null())
    copies = sa.case((job.c.copies > 1, job.c.copies), else_=1)
    if rule == "zero":
        return sa.func.coalesce(known, 0.0)
    if rule == "copies_zero":
        return sa.func.coalesce(known, 0.0) * copies
    return known * copies


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        for name, _, _ in FIGURES:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
    job = sa.table(
        "job",
        sa.column("analysis", sa.JSON()),
        sa.column("copies", sa.Integer()),
        *(sa.column(name, sa.Float()) for name, _, _ in FIGURES),
    )
    op.execute(
        sa.update(job).values({name: _value(job, path, rule) for name, path, rule in FIGURES})
    )
    # The machine of a « bad » run is the job's last claim before it: without this, each
    # lookup walked every claim of every job made before it.
    with op.batch_alter_table("job_event", schema=None) as batch_op:
        batch_op.create_index("ix_job_event_job_state_at", ["job_id", "to_state", "at"])


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding the job table, which others
    # reference, would trip its foreign keys as soon as it holds rows.
    with op.batch_alter_table("job_event", schema=None) as batch_op:
        batch_op.drop_index("ix_job_event_job_state_at")
    with op.batch_alter_table("job", schema=None, recreate="never") as batch_op:
        for name, _, _ in reversed(FIGURES):
            batch_op.drop_column(name)
