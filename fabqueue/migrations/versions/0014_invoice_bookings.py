"""bookings billed on invoice lines

Revision ID: 0014
Revises: 0013_notify
Create Date: 2026-12-07 15:20:00

One new table, nothing existing changes (no rebuild of a referenced table on SQLite):
the downgrade drops it, and refuses while an issued invoice bills a booking (an issued
invoice is kept ten years, with what it billed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_booking",
        sa.Column("line_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("billed_booking_id", sa.Integer(), nullable=True),
        sa.Column("credited_by_id", sa.Integer(), nullable=True),
        sa.Column("covered_job_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["invoice_line.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.ForeignKeyConstraint(["credited_by_id"], ["invoice.id"]),
        sa.PrimaryKeyConstraint("line_id"),
        sa.UniqueConstraint("billed_booking_id"),
    )
    op.create_index("ix_invoice_booking_invoice_id", "invoice_booking", ["invoice_id"])
    op.create_index("ix_invoice_booking_booking_id", "invoice_booking", ["booking_id"])


def downgrade() -> None:
    billed = op.get_bind().execute(
        sa.text(
            "SELECT count(*) FROM invoice_booking ib JOIN invoice i ON i.id = ib.invoice_id "
            "WHERE i.number IS NOT NULL"
        )
    )
    if billed.scalar_one():
        raise RuntimeError(
            "issued invoices bill bookings: they are kept ten years, with what they billed; "
            "not dropping invoice_booking"
        )
    op.drop_index("ix_invoice_booking_booking_id", table_name="invoice_booking")
    op.drop_index("ix_invoice_booking_invoice_id", table_name="invoice_booking")
    op.drop_table("invoice_booking")
