"""trainings, authorisations, bookings, blocked time, calendar tokens

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-07 05:00:00

On PostgreSQL two exclusion constraints (btree_gist) make overlapping live bookings
impossible, per machine and per member, whatever the code does; SQLite has no such
constraint, and the service checks inside its write transaction instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _user_fk(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["app_user.id"])


def upgrade() -> None:
    op.create_table(
        "training",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("machines", sa.JSON(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("validity_months", sa.Integer(), nullable=True),
        sa.Column("unused_months", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "training_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("training_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("facilitator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["training_id"], ["training.id"]),
        _user_fk("facilitator_id"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_training_session_training_id", "training_session", ["training_id"])
    op.create_table(
        "authorisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=True),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("training_id", sa.Integer(), nullable=True),
        sa.Column("granted_by", sa.Integer(), nullable=False),
        sa.Column("granted_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("unused_months", sa.Integer(), nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        _user_fk("member_id"),
        _user_fk("granted_by"),
        _user_fk("revoked_by"),
        sa.ForeignKeyConstraint(["training_id"], ["training.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_authorisation_member_id", "authorisation", ["member_id"])
    op.create_table(
        "training_enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("enrolled_at", _TS, nullable=False),
        sa.Column("enrolled_by", sa.Integer(), nullable=False),
        sa.Column("validated_at", _TS, nullable=True),
        sa.Column("validated_by", sa.Integer(), nullable=True),
        sa.Column("authorisation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["training_session.id"]),
        sa.ForeignKeyConstraint(["authorisation_id"], ["authorisation.id"]),
        _user_fk("member_id"),
        _user_fk("enrolled_by"),
        _user_fk("validated_by"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "member_id"),
    )
    op.create_index("ix_training_enrolment_session_id", "training_enrolment", ["session_id"])
    op.create_index("ix_training_enrolment_member_id", "training_enrolment", ["member_id"])
    op.create_table(
        "booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("cancelled_at", _TS, nullable=True),
        sa.Column("cancelled_by", sa.Integer(), nullable=True),
        sa.Column("no_show_at", _TS, nullable=True),
        sa.Column("overrun_job_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        _user_fk("member_id"),
        _user_fk("created_by"),
        _user_fk("cancelled_by"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_booking_machine_time", "booking", ["machine", "starts_at"])
    op.create_index("ix_booking_member_time", "booking", ["member_id", "starts_at"])
    op.create_table(
        "booking_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "created",
                "moved",
                "cancelled",
                "no_show",
                "overrun",
                name="bookingaction",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_booking_event_booking_id", "booking_event", ["booking_id"])
    op.create_table(
        "blocked_time",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("cancelled_at", _TS, nullable=True),
        _user_fk("created_by"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_blocked_time_machine_time", "blocked_time", ["machine", "starts_at"])
    op.create_table(
        "calendar_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        _user_fk("member_id"),
        _user_fk("created_by"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        for name, column in (("machine", "machine"), ("member", "member_id")):
            op.execute(
                f"ALTER TABLE booking ADD CONSTRAINT booking_no_overlap_{name} "
                f"EXCLUDE USING gist ({column} WITH =, "
                "tstzrange(starts_at, ends_at, '[)') WITH &&) "
                "WHERE (cancelled_at IS NULL)"
            )


def downgrade() -> None:
    op.drop_table("calendar_token")
    op.drop_index("ix_blocked_time_machine_time", table_name="blocked_time")
    op.drop_table("blocked_time")
    op.drop_index("ix_booking_event_booking_id", table_name="booking_event")
    op.drop_table("booking_event")
    op.drop_index("ix_booking_member_time", table_name="booking")
    op.drop_index("ix_booking_machine_time", table_name="booking")
    op.drop_table("booking")
    op.drop_index("ix_training_enrolment_member_id", table_name="training_enrolment")
    op.drop_index("ix_training_enrolment_session_id", table_name="training_enrolment")
    op.drop_table("training_enrolment")
    op.drop_index("ix_authorisation_member_id", table_name="authorisation")
    op.drop_table("authorisation")
    op.drop_index("ix_training_session_training_id", table_name="training_session")
    op.drop_table("training_session")
    op.drop_table("training")
