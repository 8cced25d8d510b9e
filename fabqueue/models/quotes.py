"""Quotes (devis): the request, its lines, its events, the yearly number sequence, and
the jobs a converted quote became."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime, str_enum
from fabqueue.profiles.site import VatRegime
from jobs.base import MachineKind

CENTS = BigInteger().with_variant(Integer(), "sqlite")
"""Money in cents, 64-bit: a 32-bit column stops at 21,474,836.47 € (PostgreSQL refuses
more). SQLite's INTEGER holds 64 bits already."""


class QuoteState(StrEnum):
    requested = "requested"
    """A client sent designs, quantities and wishes; nobody has priced it yet."""
    draft = "draft"
    """Staff are pricing it: lines can change."""
    sent = "sent"
    """Numbered and frozen; waiting for the client's answer."""
    accepted = "accepted"
    """"Bon pour accord": the client agreed (name, time, how)."""
    refused = "refused"
    expired = "expired"
    """Sent, and its validity passed without an answer."""
    converted = "converted"
    """Its jobs were made."""
    superseded = "superseded"
    """Sent, then replaced by another version: a newer one was sent, or another version
    was accepted."""
    cancelled = "cancelled"
    """A request or draft abandoned before it was sent (sent quotes are never removed)."""


EDITABLE_STATES = frozenset({QuoteState.requested, QuoteState.draft})
REVISABLE_STATES = frozenset({QuoteState.sent, QuoteState.refused, QuoteState.expired})


class LineKind(StrEnum):
    design = "design"
    """A file to make, priced from its analysis; becomes jobs."""
    free = "free"
    """Anything else staff add: design work, fitting in the shop window, delivery."""
    discount = "discount"
    """The client's discount on the automatically priced designs, made and remade with
    their prices (a negative amount, one line per VAT rate)."""


class PriceSource(StrEnum):
    auto = "auto"
    manual = "manual"


class AcceptanceVia(StrEnum):
    account = "account"
    """The client, logged in."""
    link = "link"
    """The client, through the quote's secret link."""
    staff = "staff"
    """Staff recorded a signed paper copy."""


class Quote(SQLModel, table=True):
    __tablename__ = "quote"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    state: QuoteState = Field(sa_type=str_enum(QuoteState))
    number: str | None = Field(default=None, max_length=32, unique=True)
    """DEV-2026-0001, given when it is sent."""
    year: int | None = None
    seq: int | None = None
    version: int = 1
    previous_id: int | None = Field(default=None, foreign_key="quote.id", index=True)
    """The quote this version replaces."""
    title: str = Field(max_length=200)
    request_notes: str = Field(default="", max_length=4000)
    """The client's wishes, as written."""
    notes: str = Field(default="", max_length=4000)
    """Printed on the quote."""
    lead_time: str = Field(max_length=200)
    payment_terms: str = Field(max_length=500)
    validity_days: int
    valid_until: date | None = None
    """Last day (café's time zone) the client can accept it."""
    vat_regime: VatRegime | None = Field(default=None, sa_type=str_enum(VatRegime))
    vat_mention: str | None = Field(default=None, max_length=300)
    issuer: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """The café's identity as printed when it was sent (site.toml may change later)."""
    client: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """The client's name and address as printed when it was sent."""
    total_ht_cents: int | None = Field(default=None, sa_type=CENTS)
    total_vat_cents: int | None = Field(default=None, sa_type=CENTS)
    total_ttc_cents: int | None = Field(default=None, sa_type=CENTS)
    requested_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_by_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    accept_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    """sha256 of the secret in the client's link; the secret itself is never stored."""
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_by_name: str | None = Field(default=None, max_length=200)
    accepted_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    acceptance_via: AcceptanceVia | None = Field(default=None, sa_type=str_enum(AcceptanceVia))
    signed_on: date | None = None
    """The date written on a paper copy signed « bon pour accord » that staff recorded
    (it may reach the café after the quote's validity; it counts if signed within it)."""
    refused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refusal_reason: str | None = Field(default=None, max_length=1000)
    converted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class QuoteLine(SQLModel, table=True):
    __tablename__ = "quote_line"

    id: int | None = Field(default=None, primary_key=True)
    quote_id: int = Field(foreign_key="quote.id", index=True)
    position: int
    kind: LineKind = Field(sa_type=str_enum(LineKind))
    description: str = Field(max_length=500)
    quantity_milli: int
    """Quantity × 1000 (copies are whole; hours of labour need not be)."""
    unit: str = Field(default="u", max_length=16)
    unit_price_cents: int = Field(sa_type=CENTS)
    """€ HT, in cents."""
    vat_rate_bp: int
    """VAT rate in hundredths of a percent (2000 = 20 %), frozen when sent."""
    vat_rate_manual: bool = False
    """Staff chose the rate (under the normal regime); else it follows the regime in
    force when the quote is sent."""
    price_source: PriceSource = Field(sa_type=str_enum(PriceSource))
    needs_estimate: bool = False
    """Auto-pricing could not price everything: staff must set the price."""
    missing: list[str] = Field(default_factory=list, sa_type=JSON)
    machine_kind: MachineKind | None = Field(default=None, sa_type=str_enum(MachineKind))
    material: str | None = Field(default=None, max_length=64)
    design_minutes: int = 0
    file_sha256: str | None = Field(default=None, foreign_key="stored_file.sha256", max_length=64)
    file_name: str | None = Field(default=None, max_length=255)
    file_type: str | None = Field(default=None, max_length=16)
    file_size: int | None = None
    analysis: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    price_detail: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    """The components of the auto price (label, amount, basis), for staff to check."""


class QuoteEvent(SQLModel, table=True):
    __tablename__ = "quote_event"

    id: int | None = Field(default=None, primary_key=True)
    quote_id: int = Field(foreign_key="quote.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=120)
    """``user:<id>``, ``link`` (the client's secret link), ``system``."""
    action: str = Field(max_length=40)
    from_state: QuoteState | None = Field(default=None, sa_type=str_enum(QuoteState))
    to_state: QuoteState | None = Field(default=None, sa_type=str_enum(QuoteState))
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class QuoteSequence(SQLModel, table=True):
    """The last number given in a year. Locked while a quote is being sent."""

    __tablename__ = "quote_sequence"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class QuoteJob(SQLModel, table=True):
    """A job made from a quote line (one per copy)."""

    __tablename__ = "quote_job"
    __table_args__ = (UniqueConstraint("quote_line_id", "copy_index"),)

    job_id: int = Field(
        foreign_key="job.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    quote_id: int = Field(foreign_key="quote.id", index=True)
    quote_line_id: int = Field(foreign_key="quote_line.id", index=True)
    copy_index: int


class JobActual(SQLModel, table=True):
    """What a job really took, entered by the operator, beside the analysis' estimate.

    The machine's own figure is ``job.actual_duration_s`` (the runner writes it); a
    row here overrides it, and adds material actually used.
    """

    __tablename__ = "job_actual"

    job_id: int = Field(
        foreign_key="job.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    duration_s: float | None = None
    material: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    note: str = Field(default="", max_length=500)
    recorded_by: str = Field(max_length=120)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
