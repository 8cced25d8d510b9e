"""What the quote API takes and returns. Money is € HT as decimal strings ("12.30")."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fabqueue.models.quotes import AcceptanceVia, LineKind, PriceSource, QuoteState
from fabqueue.models.types import MAX_ID
from fabqueue.profiles.site import VatRegime
from jobs.base import MachineKind

MAX_QUANTITY = Decimal(100_000)
MAX_UNIT_PRICE = Decimal(1_000_000)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuoteIn(_In):
    title: str = Field(min_length=1, max_length=200)
    request_notes: str = Field(default="", max_length=4000)
    """What the client wants: sizes, colours, placement, deadline."""
    organisation_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    """Staff: the client it is for. Clients: omitted (their own)."""


class QuotePatch(_In):
    """Staff, on a draft."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)
    lead_time: str | None = Field(default=None, min_length=1, max_length=200)
    payment_terms: str | None = Field(default=None, min_length=1, max_length=500)
    validity_days: int | None = Field(default=None, ge=1, le=366)


class LineIn(_In):
    """A free line (labour, fitting, delivery…), priced by hand."""

    description: str = Field(min_length=1, max_length=500)
    quantity: Decimal = Field(gt=0, le=MAX_QUANTITY, decimal_places=3)
    unit: str = Field(default="u", min_length=1, max_length=16)
    unit_price_ht: Decimal = Field(ge=0, le=MAX_UNIT_PRICE, decimal_places=2)
    vat_rate: Decimal | None = Field(default=None, ge=0, le=100)


class LinePatch(_In):
    """Change a draft's line. A design line is priced again from its analysis when its
    quantity, material or design time changes, unless a unit price is given."""

    description: str | None = Field(default=None, min_length=1, max_length=500)
    quantity: Decimal | None = Field(default=None, gt=0, le=MAX_QUANTITY, decimal_places=3)
    unit: str | None = Field(default=None, min_length=1, max_length=16)
    unit_price_ht: Decimal | None = Field(default=None, ge=0, le=MAX_UNIT_PRICE, decimal_places=2)
    vat_rate: Decimal | None = Field(default=None, ge=0, le=100)
    material: str | None = Field(default=None, max_length=64)
    design_minutes: int | None = Field(default=None, ge=0, le=100_000)
    auto_price: bool | None = None
    """True: drop a hand-set price and price the design line from its analysis again."""


class Acceptance(_In):
    signer_name: str = Field(min_length=1, max_length=200)
    """Who signs "bon pour accord" for the client."""
    agree: bool
    """The "bon pour accord" checkbox: must be true."""


class PaperAcceptance(_In):
    """A paper copy signed « bon pour accord », recorded by staff."""

    signer_name: str = Field(min_length=1, max_length=200)
    signed_on: date
    """The date written beside the signature (it must be within the quote's validity)."""
    agree: bool = True
    """The copy bears the handwritten « bon pour accord »."""


class Refusal(_In):
    reason: str = Field(default="", max_length=1000)


class ConvertIn(_In):
    hold: bool = False
    """Keep the jobs held (e.g. the material must be ordered first)."""


class LinePublic(BaseModel):
    id: int
    position: int
    kind: LineKind
    description: str
    quantity: Decimal
    unit: str
    unit_price_ht: Decimal | None
    vat_rate: Decimal
    total_ht: Decimal | None
    price_source: PriceSource
    needs_estimate: bool
    missing: list[str]
    machine_kind: MachineKind | None
    material: str | None
    design_minutes: int
    file_name: str | None
    file_type: str | None
    file_size: int | None
    analysis: dict[str, Any] | None = None
    """Staff only."""
    price_detail: list[dict[str, Any]] | None = None
    """Staff only: how the automatic price was made."""


class VatPublic(BaseModel):
    rate: Decimal
    base_ht: Decimal
    vat: Decimal


class TotalsPublic(BaseModel):
    ht: Decimal
    vat: list[VatPublic]
    ttc: Decimal
    vat_mention: str


class QuotePublic(BaseModel):
    id: int
    organisation_id: int
    organisation_name: str
    state: QuoteState
    number: str | None
    version: int
    previous_id: int | None
    previous_number: str | None
    title: str
    request_notes: str
    notes: str
    lead_time: str
    payment_terms: str
    validity_days: int
    valid_until: date | None
    vat_regime: VatRegime | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    accepted_at: datetime | None
    accepted_by_name: str | None
    acceptance_via: AcceptanceVia | None
    signed_on: date | None = None
    """For a paper copy staff recorded: the date it was signed."""
    refused_at: datetime | None
    refusal_reason: str | None
    converted_at: datetime | None
    lines: list[LinePublic]
    totals: TotalsPublic | None
    """None while a client looks at a quote not yet sent (prices are not final)."""
    job_ids: list[int]


class QuotesPublic(BaseModel):
    data: list[QuotePublic]
    count: int


class QuoteSent(QuotePublic):
    accept_token: str
    """The secret of the client's link; shown once (only its hash is kept)."""
    accept_path: str
    """``/api/v1/quotes/link/<token>``: give it to the client with the PDF."""


class QuoteEventPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    from_state: QuoteState | None
    to_state: QuoteState | None
    detail: dict[str, Any]
