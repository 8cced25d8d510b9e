"""``profiles/site.toml``: who issues the quotes, and under which VAT regime."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fabqueue.profiles.booking import BookingPolicy, PrivacyPolicy


class VatRegime(StrEnum):
    normal = "normal"
    """VAT-registered: lines carry a rate, totals show VAT per rate and TTC."""
    franchise_293B = "franchise_293B"
    """Franchise en base: no VAT is charged; the mention of art. 293 B is compulsory."""
    association_exempt = "association_exempt"
    """Non-profit association under the franchise of accessory commercial income."""


DEFAULT_MENTIONS = {
    VatRegime.normal: "",
    VatRegime.franchise_293B: "TVA non applicable, art. 293 B du CGI",
    VatRegime.association_exempt: "TVA non applicable, art. 261-7-1°-b du CGI",
}

FRENCH_VAT_RATES = ("20", "10", "5.5", "2.1", "0")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def vat_key(siren: str) -> int:
    """The two check digits of a French intra-EU VAT number, from the SIREN."""
    return (12 + 3 * (int(siren) % 97)) % 97


class Accounts(BaseModel):
    """Account numbers of the café's chart of accounts (PCG), for the FEC."""

    model_config = ConfigDict(extra="forbid")

    sales_journal: str = Field("VE", pattern=r"^[A-Z0-9]{1,8}$")
    bank_journal: str = Field("BQ", pattern=r"^[A-Z0-9]{1,8}$")
    customers: str = Field("411000", pattern=r"^\d{3,10}$")
    deposits: str = Field("419100", pattern=r"^\d{3,10}$")
    """Advances received from customers, until the final invoice deducts them."""
    sales: dict[str, str] = Field(
        default_factory=lambda: {
            "fdm_printer": "706100",
            "vinyl_cutter": "706200",
            "embroidery": "706300",
            "service": "706000",
        }
    )
    """Sales account per kind of line (a machine kind, or ``service``)."""
    vat: dict[str, str] = Field(default_factory=lambda: {"default": "445710"})
    """VAT collected, per rate ("20", "5.5") or ``default``."""
    payments: dict[str, str] = Field(
        default_factory=lambda: {
            "especes": "530000",
            "carte": "511500",
            "cheque": "511200",
            "virement": "512000",
        }
    )

    def sales_account(self, key: str) -> str:
        return self.sales.get(key) or self.sales.get("service") or "706000"

    def vat_account(self, rate: Decimal) -> str:
        return self.vat.get(format(rate.normalize(), "f")) or self.vat.get("default") or "445710"


class MailProfile(BaseModel):
    """``[mail]`` of site.toml. ``FABQUEUE_MAIL_*`` variables override each key; the
    password is only ever read from ``FABQUEUE_MAIL_PASSWORD``."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=200)
    port: int = Field(25, ge=1, le=65535)
    user: str | None = Field(None, max_length=200)
    sender: str = Field(alias="from", min_length=3, max_length=200)
    starttls: bool = False
    expiry_notice_days: int = Field(3, ge=1, le=60)
    """Shops hear about a quote this many days before its validity ends."""


class SiteProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=200)
    legal_form: str = Field(min_length=1, max_length=120)
    """Association loi 1901, SCIC SARL, EI…"""
    address: list[str] = Field(min_length=1, max_length=5)
    """Postal address, one line per item (street, postcode and town…)."""
    siret: str
    vat_number: str | None = None
    """Intra-EU VAT number (FR + key + SIREN); required under the normal regime."""
    rcs: str | None = Field(None, max_length=120)
    """Trade register mention of a company or a trader (e.g. "RCS Lyon 123 456 789")."""
    rm: str | None = Field(None, max_length=120)
    """Craft register mention of an artisan (e.g. "RM 812 345 676 69")."""
    ei: bool = False
    """An entrepreneur individuel (a micro-entrepreneur too): the law wants « EI » beside
    the name on every quote."""
    rna: str | None = None
    """An association's number in the Répertoire national des associations (W + 9
    digits), printed on its quotes."""
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    logo: str | None = None
    """An image file in the profiles folder (SVG or PNG), printed on quotes."""
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """The café's address as customers reach it (``https://atelier.example.org``): the
    links sent to shopkeepers are built on it. Unset: the address fabqueue serves on."""

    vat_regime: VatRegime
    default_vat_rate: Decimal = Field(Decimal("20"), ge=0, le=100)
    vat_rates: list[Decimal] = Field(default_factory=lambda: [Decimal(r) for r in FRENCH_VAT_RATES])
    """Rates staff may put on a line (normal regime)."""
    vat_mention: str | None = Field(None, max_length=300)
    """Overrides the regime's default mention printed under the totals."""

    quote_prefix: str = Field("DEV", pattern=r"^[A-Z]{1,8}$")
    quote_validity_days: int = Field(30, ge=1, le=366)
    quote_lead_time: str = Field("5 jours ouvrés après l'accord", max_length=200)
    """Estimated lead time printed on quotes (staff can change it per quote)."""
    payment_terms: str = Field(
        "Paiement à réception de la facture, par virement ou chèque.", max_length=500
    )
    quote_footer: str | None = Field(None, max_length=500)
    """Free text at the bottom of every quote (insurance, bank details…)."""

    invoice_prefix: str = Field("FAC", pattern=r"^[A-Z]{1,8}$")
    """Series of invoices and deposit invoices: FAC-2026-0001. Cafés sharing one database
    each take their own prefix, so each keeps its own gap-free series."""
    credit_note_prefix: str = Field("AV", pattern=r"^[A-Z]{1,8}$")
    payment_days: int = Field(30, ge=0, le=60)
    """Days from the invoice date to its due date (at most 60 by C. com. L441-10)."""
    late_penalty_rate: str = Field(
        "trois fois le taux d'intérêt légal", min_length=1, max_length=200
    )
    accounts: Accounts = Field(default_factory=lambda: Accounts())
    """Chart-of-accounts numbers for the FEC export."""

    locale: Literal["fr_FR"] = "fr_FR"
    timezone: str = "Europe/Paris"
    lock_after_minutes: int = Field(10, ge=1, le=720)
    """A counter tablet left alone this long locks; the facilitator's PIN unlocks it."""

    booking: BookingPolicy = Field(default_factory=BookingPolicy)
    """Opening hours, closures and the booking rules (``[booking]``)."""
    privacy: PrivacyPolicy = Field(default_factory=PrivacyPolicy)

    mail: MailProfile | None = None
    """``[mail]``: the SMTP server e-mails leave through (the password: environment only)."""

    @field_validator("siret")
    @classmethod
    def _siret(cls, v: str) -> str:
        v = re.sub(r"\s", "", v)
        if not re.fullmatch(r"\d{14}", v):
            raise ValueError("a SIRET is 14 digits")
        if not luhn_ok(v):
            raise ValueError("this SIRET fails its check digit (a typo?)")
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else None

    @field_validator("vat_number")
    @classmethod
    def _vat(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = re.sub(r"\s", "", v).upper()
        m = re.fullmatch(r"FR(\d{2})(\d{9})", v)
        if not m:
            raise ValueError("a French VAT number is FR, two check digits and the SIREN")
        if int(m.group(1)) != vat_key(m.group(2)):
            raise ValueError("this VAT number's check digits do not match its SIREN")
        return v

    @field_validator("rna")
    @classmethod
    def _rna(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = re.sub(r"\s", "", v).upper()
        if not re.fullmatch(r"W\d{9}", v):
            raise ValueError("an RNA number is W followed by 9 digits (e.g. W691234567)")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _regime(self) -> SiteProfile:
        if self.vat_regime == VatRegime.normal:
            if self.vat_number is None:
                raise ValueError("the normal VAT regime needs the café's vat_number")
            if self.vat_number[4:] != self.siret[:9]:
                raise ValueError("the VAT number's SIREN is not the SIRET's first 9 digits")
            if self.default_vat_rate not in self.vat_rates:
                raise ValueError("default_vat_rate must be one of vat_rates")
        return self

    @property
    def mention(self) -> str:
        return (
            self.vat_mention if self.vat_mention is not None else DEFAULT_MENTIONS[self.vat_regime]
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def line_vat_rate(self) -> Decimal:
        """The rate a new quote line gets: the default, or 0 outside the normal regime."""
        return self.default_vat_rate if self.vat_regime == VatRegime.normal else Decimal("0")
