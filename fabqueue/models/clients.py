"""Client organisations (shopkeepers) and the client users who act for them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from fabqueue.models.types import MAX_ID, UTCDateTime


class Organisation(SQLModel, table=True):
    """A shop, an association, a school: who asks for quotes and is billed.

    Kept once it has quotes (a quote is kept 10 years); ``active`` False hides it.
    """

    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    legal_form: str | None = Field(default=None, max_length=120)
    siret: str | None = Field(default=None, max_length=14)
    vat_number: str | None = Field(default=None, max_length=20)
    address: str = Field(default="", max_length=500)
    """Postal address, lines separated by newlines."""
    contact_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    price_group: str | None = Field(default=None, max_length=40)
    """A key of prices.toml's ``[groups]``."""
    adjustment_bp: int | None = None
    """This client's own adjustment in hundredths of a percent (−1000 = 10 % off);
    it replaces its group's when set."""
    notes: str = Field(default="", max_length=2000)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ClientAccount(SQLModel, table=True):
    """A user of role ``client`` belongs to one organisation and sees only its things."""

    __tablename__ = "client_account"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)


class OrganisationIn(SQLModel):
    """Create or replace an organisation's details (staff)."""

    name: str = Field(min_length=1, max_length=200)
    legal_form: str | None = Field(default=None, max_length=120)
    siret: str | None = Field(default=None, max_length=20)
    vat_number: str | None = Field(default=None, max_length=20)
    address: str = Field(default="", max_length=500)
    contact_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    price_group: str | None = Field(default=None, max_length=40)
    adjustment_percent: Decimal | None = Field(default=None, gt=-100, le=200, decimal_places=2)
    notes: str = Field(default="", max_length=2000)
    active: bool = True


class OrganisationPublic(SQLModel):
    id: int
    name: str
    legal_form: str | None
    siret: str | None
    vat_number: str | None
    address: str
    contact_name: str
    email: str | None
    phone: str | None
    price_group: str | None
    adjustment_percent: Decimal | None
    notes: str
    active: bool
    created_at: datetime
    updated_at: datetime


class ClientUserIn(SQLModel):
    """Give an organisation a client user: a new one by ``name``, or an existing one."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    user_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ClientUserPublic(SQLModel):
    user_id: int
    name: str
    organisation_id: int
    token: str | None = None
    """The new user's API token, shown once."""
