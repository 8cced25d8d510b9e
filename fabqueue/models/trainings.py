"""Trainings, their sessions, and the authorisations ("habilitations") they grant.

Nothing here is ever deleted: an authorisation that expires or is revoked stays, with
when and why, so the history of who was allowed to use what is complete.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime


class Training(SQLModel, table=True):
    __tablename__ = "training"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    """What members read: « Découpe vinyle », « Impression 3D »."""
    machines: list[str] = Field(default_factory=list, sa_type=JSON)
    """Machine slugs it unlocks."""
    kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    """Machine kinds it unlocks (every machine of the kind, present and future)."""
    validity_months: int | None = None
    """An authorisation it grants expires after this; None = never."""
    unused_months: int | None = None
    """An authorisation lapses when its holder has not booked nor run a job on its
    machines for this long."""
    created_at: datetime = Field(sa_type=UTCDateTime)


class TrainingSession(SQLModel, table=True):
    __tablename__ = "training_session"

    id: int | None = Field(default=None, primary_key=True)
    training_id: int = Field(foreign_key="training.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    places: int
    facilitator_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class Enrolment(SQLModel, table=True):
    __tablename__ = "training_enrolment"
    __table_args__ = (UniqueConstraint("session_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="training_session.id", index=True)
    member_id: int = Field(foreign_key="app_user.id", index=True)
    enrolled_at: datetime = Field(sa_type=UTCDateTime)
    enrolled_by: int = Field(foreign_key="app_user.id")
    validated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    validated_by: int | None = Field(default=None, foreign_key="app_user.id")
    authorisation_id: int | None = Field(default=None, foreign_key="authorisation.id")


class Authorisation(SQLModel, table=True):
    """Member may use ``machine`` (one slug) or any machine of ``kind``."""

    __tablename__ = "authorisation"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="app_user.id", index=True)
    machine: str | None = Field(default=None, max_length=64)
    kind: str | None = Field(default=None, max_length=24)
    label: str = Field(max_length=120)
    """The name members read in a refusal: the training's, or the machine's."""
    training_id: int | None = Field(default=None, foreign_key="training.id")
    granted_by: int = Field(foreign_key="app_user.id")
    granted_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unused_months: int | None = None
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: int | None = Field(default=None, foreign_key="app_user.id")
    reason: str | None = Field(default=None, max_length=500)
    """Why it was granted (trained elsewhere…) and, once revoked, why it was revoked."""


class TrainingCreate(SQLModel):
    name: str
    machines: list[str] = []
    kinds: list[str] = []
    validity_months: int | None = None
    unused_months: int | None = None


class TrainingPublic(SQLModel):
    id: int
    name: str
    machines: list[str]
    kinds: list[str]
    validity_months: int | None
    unused_months: int | None


class SessionCreate(SQLModel):
    starts_at: datetime
    ends_at: datetime
    places: int
    facilitator_id: int | None = None


class SessionPublic(SQLModel):
    id: int
    training_id: int
    starts_at: datetime
    ends_at: datetime
    places: int
    facilitator_id: int
    enrolled: list[dict[str, Any]] = []


class AuthorisationPublic(SQLModel):
    id: int
    member_id: int
    machine: str | None
    kind: str | None
    label: str
    training_id: int | None
    granted_by: int
    granted_at: datetime
    expires_at: datetime | None
    unused_months: int | None
    revoked_at: datetime | None
    revoked_by: int | None
    reason: str | None
    valid: bool = False
    """Whether it lets its holder use the machine now (set by the service)."""
    why_not: str | None = None
