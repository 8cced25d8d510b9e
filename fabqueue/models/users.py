"""People and the API tokens scripts and slicers use on their behalf."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime, str_enum


class Role(StrEnum):
    admin = "admin"
    """Profiles, prices, users."""
    facilitator = "facilitator"
    """Staff at the counter: runs the queue and the machines."""
    member = "member"
    """Trained resident: submits their own jobs."""
    client = "client"
    """Shopkeeper or organisation: asks for quotes and follows its jobs."""


STAFF_ROLES = frozenset({Role.admin, Role.facilitator})


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    role: Role = Field(sa_type=str_enum(Role))
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    password_hash: str | None = Field(default=None, max_length=255)
    """argon2id, for signing in to the pages; None: this person cannot sign in there."""
    pin_hash: str | None = Field(default=None, max_length=255)
    """argon2id of the short PIN that unlocks a counter tablet locked after inactivity."""
    locale: str | None = Field(default=None, max_length=16)
    """The pages' language (fr, en); None: the browser's choice, else French."""

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class ApiToken(SQLModel, table=True):
    """Only the token's sha256 is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    label: str = Field(default="", max_length=120)
    prefix: str | None = Field(default=None, max_length=16)
    """The token's first characters (``fq_`` and 8 more), to recognise it in a list."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiTokenPublic(SQLModel):
    """A token as listed: never its secret, nor its hash."""

    id: int
    user_id: int
    label: str
    prefix: str | None
    created_at: datetime
    revoked_at: datetime | None


class UserPublic(SQLModel):
    id: int
    name: str
    role: Role
    active: bool
