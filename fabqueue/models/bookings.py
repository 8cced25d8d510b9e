"""Bookings of machine time, staff-blocked time, and calendar feed tokens.

A booking is never deleted: cancelling sets ``cancelled_at``, moving rewrites its times
and records the old ones in a ``BookingEvent``. On PostgreSQL an exclusion constraint
(migration 0008) forbids two live bookings overlapping on one machine or for one member;
on SQLite the service checks inside the write transaction, which SQLite serialises.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from fabqueue.models.types import MAX_ID, UTCDateTime, str_enum


class Booking(SQLModel, table=True):
    __tablename__ = "booking"
    __table_args__ = (
        Index("ix_booking_machine_time", "machine", "starts_at"),
        Index("ix_booking_member_time", "member_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    machine: str = Field(max_length=64)
    member_id: int = Field(foreign_key="app_user.id")
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: int = Field(foreign_key="app_user.id")
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_by: int | None = Field(default=None, foreign_key="app_user.id")
    no_show_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    overrun_job_id: int | None = None
    """A job of the member still running when the booking ended (never stopped)."""
    note: str | None = Field(default=None, max_length=500)


class BookingAction(StrEnum):
    created = "created"
    moved = "moved"
    cancelled = "cancelled"
    no_show = "no_show"
    overrun = "overrun"


class BookingEvent(SQLModel, table=True):
    __tablename__ = "booking_event"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    action: BookingAction = Field(sa_type=str_enum(BookingAction))
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=120)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    """The booking's times after the action (the old ones are in the previous event)."""
    ends_at: datetime = Field(sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=500)


class BlockedTime(SQLModel, table=True):
    """Machine time staff keep out of bookings: maintenance, a workshop, a big job."""

    __tablename__ = "blocked_time"
    __table_args__ = (Index("ix_blocked_time_machine_time", "machine", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    machine: str = Field(max_length=64)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(max_length=200)
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CalendarToken(SQLModel, table=True):
    """A secret feed address: one machine's bookings, or one member's. Only the token's
    sha256 is kept; revoking it ends the feed."""

    __tablename__ = "calendar_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    machine: str | None = Field(default=None, max_length=64)
    member_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BookingCreate(SQLModel):
    machine: str
    starts_at: datetime
    ends_at: datetime
    member_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    """Staff book for a member; a member books for themself."""
    note: str | None = None


class BookingMove(SQLModel):
    starts_at: datetime
    ends_at: datetime


class BookingPublic(SQLModel):
    id: int
    machine: str
    member_id: int | None
    """None when the reader may not know who booked."""
    starts_at: datetime
    ends_at: datetime
    starts_local: str
    """The start in the café's time zone, ISO 8601 with its offset."""
    ends_local: str
    cancelled_at: datetime | None
    no_show_at: datetime | None
    overrun_job_id: int | None
    mine: bool


class BlockCreate(SQLModel):
    machine: str
    starts_at: datetime
    ends_at: datetime
    reason: str
