"""Invoices (factures), deposit invoices (acomptes), credit notes (avoirs), their lines,
events, number sequences, and the payments recorded against them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from fabqueue.models.quotes import CENTS
from fabqueue.models.types import UTCDateTime, str_enum
from fabqueue.profiles.site import VatRegime


class InvoiceKind(StrEnum):
    invoice = "invoice"
    """A facture: what was made (or what remains of a quote after its deposits)."""
    deposit = "deposit"
    """A facture d'acompte: a share of an accepted quote, asked before the work."""
    credit_note = "credit_note"
    """An avoir: corrects an issued invoice, whole or by lines."""


class InvoiceState(StrEnum):
    draft = "draft"
    """Lines may change; no number yet."""
    issued = "issued"
    """Numbered, archived, never edited again; waiting for payment."""
    partially_paid = "partially_paid"
    paid = "paid"
    """Nothing left to pay (payments and credit notes cover it)."""
    cancelled = "cancelled"
    """A draft abandoned (an issued invoice is corrected by a credit note instead)."""


class InvoiceLineKind(StrEnum):
    item = "item"
    discount = "discount"
    """A visible discount (negative amount), never a hidden change of unit price."""
    deposit = "deposit"
    """On a deposit invoice, the share asked; on the final invoice, a deposit deducted
    (negative amount)."""


class PaymentMethod(StrEnum):
    especes = "especes"
    carte = "carte"
    cheque = "cheque"
    virement = "virement"


class Invoice(SQLModel, table=True):
    __tablename__ = "invoice"

    id: int | None = Field(default=None, primary_key=True)
    kind: InvoiceKind = Field(sa_type=str_enum(InvoiceKind))
    state: InvoiceState = Field(sa_type=str_enum(InvoiceState))
    number: str | None = Field(default=None, max_length=40, unique=True)
    """FAC-2026-0001 / AV-2026-0001, given when it is issued."""
    series: str = Field(max_length=16)
    year: int | None = None
    seq: int | None = None
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    """The client organisation; ``None`` for a walk-in customer at the counter."""
    customer_name: str | None = Field(default=None, max_length=200)
    """A walk-in customer's name, when there is no organisation."""
    business: bool = True
    """A business customer: the 40 € recovery indemnity and penalties are printed."""
    quote_id: int | None = Field(default=None, foreign_key="quote.id", index=True)
    corrects_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    """For a credit note: the invoice it corrects."""
    title: str = Field(default="", max_length=200)
    notes: str = Field(default="", max_length=2000)
    till_reference: str | None = Field(default=None, max_length=120)
    """For a counter sale: the ticket of the café's own till."""
    service_date: date | None = None
    issue_date: date | None = None
    due_date: date | None = None
    vat_regime: VatRegime | None = Field(default=None, sa_type=str_enum(VatRegime))
    vat_mention: str | None = Field(default=None, max_length=300)
    issuer: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    client: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    total_ht_cents: int | None = Field(default=None, sa_type=CENTS)
    total_vat_cents: int | None = Field(default=None, sa_type=CENTS)
    total_ttc_cents: int | None = Field(default=None, sa_type=CENTS)
    vat_breakdown: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    """Per rate, as issued: ``{"rate_bp", "base_cents", "vat_cents"}``."""
    pdf_sha256: str | None = Field(default=None, max_length=64)
    footprint: str | None = Field(default=None, max_length=64)
    """sha256 of this record's content and the previous record's footprint."""
    previous_footprint: str | None = Field(default=None, max_length=64)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    position: int
    kind: InvoiceLineKind = Field(sa_type=str_enum(InvoiceLineKind))
    description: str = Field(max_length=500)
    quantity_milli: int
    unit: str = Field(default="u", max_length=16)
    unit_price_cents: int = Field(sa_type=CENTS)
    """€ HT, in cents; negative for a discount or a deposit deducted."""
    vat_rate_bp: int
    account_key: str = Field(default="service", max_length=32)
    """Which sales account of ``site.toml`` the line goes to (a machine kind, or
    ``service``)."""
    quote_line_id: int | None = Field(default=None, foreign_key="quote_line.id", index=True)
    job_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    deposit_invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    """On a final invoice: the deposit invoice this line deducts."""
    credited_line_id: int | None = Field(default=None, foreign_key="invoice_line.id", unique=True)
    """On a credit note: the invoice line it credits (unique: a line is credited once)."""


class InvoiceJob(SQLModel, table=True):
    """A job billed on an invoice line: the primary key keeps it from being billed twice."""

    __tablename__ = "invoice_job"

    job_id: int = Field(
        foreign_key="job.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    invoice_id: int = Field(foreign_key="invoice.id", index=True)


class InvoiceBooking(SQLModel, table=True):
    """A booking billed on an invoice line.

    Written with the draft; ``billed_booking_id`` is set to the booking in the issuing
    transaction and is unique, so two invoices issued at the same moment cannot both
    bill one booking. A credit note of the line clears it (the booking may be invoiced
    again, corrected) and keeps the row as history.
    """

    __tablename__ = "invoice_booking"

    line_id: int = Field(
        foreign_key="invoice_line.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    billed_booking_id: int | None = Field(default=None, unique=True)
    """The booking while an issued invoice bills it (NULL in a draft or once credited)."""
    credited_by_id: int | None = Field(default=None, foreign_key="invoice.id")
    """The credit note that freed the booking."""
    covered_job_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    """The member's jobs that ran inside the booking: their machine time is the booking's."""


class InvoiceEvent(SQLModel, table=True):
    __tablename__ = "invoice_event"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=40)
    from_state: InvoiceState | None = Field(default=None, sa_type=str_enum(InvoiceState))
    to_state: InvoiceState | None = Field(default=None, sa_type=str_enum(InvoiceState))
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class InvoiceSequence(SQLModel, table=True):
    """The last number of a series in a year; locked while one is being issued."""

    __tablename__ = "invoice_sequence"

    series: str = Field(primary_key=True, max_length=16)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class Payment(SQLModel, table=True):
    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount_cents: int = Field(sa_type=CENTS)
    method: PaymentMethod = Field(sa_type=str_enum(PaymentMethod))
    paid_on: date
    reference: str = Field(default="", max_length=120)
    """Cheque number, transfer label, or the ticket of the café's till."""
    recorded_by: str = Field(max_length=120)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
