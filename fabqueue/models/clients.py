"""Client organisations (shopkeepers) and the client users who act for them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime


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
