"""The devis as a PDF: WeasyPrint from ``templates/quotes/devis.html``.

A sent quote is printed from what was frozen when it was sent (café identity, client
address, lines, VAT regime), so the same PDF comes out years later whatever the
profiles say now. A draft prints as a marked working copy, with no number.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session

from fabqueue.models import Organisation, Quote, QuoteState
from fabqueue.models.quotes import AcceptanceVia
from fabqueue.pricing import from_cents, line_total_cents
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.site import VatRegime
from fabqueue.quotes.sending import client_snapshot, issuer_snapshot, quote_totals
from fabqueue.quotes.workflow import lines_of
from fabqueue.services.errors import Conflict

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOCALE = "fr_FR"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False
)

_VIA = {
    AcceptanceVia.account: "en ligne, compte client",
    AcceptanceVia.link: "en ligne, lien du devis",
    AcceptanceVia.staff: "exemplaire signé reçu par le café",
}


def eur(amount: Decimal) -> str:
    return format_currency(amount, "EUR", locale=LOCALE)


def pct(rate: Decimal) -> str:
    return format_decimal(rate.normalize(), locale=LOCALE) + " %"


def qty(value: Decimal) -> str:
    return format_decimal(value.normalize(), locale=LOCALE)


_PLURAL = {"pièce": "pièces", "heure": "heures", "forfait": "forfaits"}


def unit_label(unit: str, quantity: Decimal) -> str:
    """French puts the plural from 2 on: « 1,5 heure », « 2 heures »."""
    return _PLURAL.get(unit, unit) if quantity >= 2 else unit


def context(session: Session, quote: Quote, profiles: ProfileSet, at: datetime) -> dict[str, Any]:
    assert quote.id is not None
    site = profiles.site
    sent = quote.number is not None
    if not sent and site is None:
        raise Conflict("the café's identity is not set up: write profiles/site.toml first")
    if sent:
        issuer, client = quote.issuer, quote.client
        regime = quote.vat_regime or VatRegime.normal
        mention = quote.vat_mention or ""
    else:
        assert site is not None
        org = session.get(Organisation, quote.organisation_id)
        assert org is not None
        issuer, client = issuer_snapshot(site), client_snapshot(org)
        regime, mention = site.vat_regime, site.mention
    tz = ZoneInfo(issuer.get("timezone") or "Europe/Paris")
    issued = (quote.sent_at or at).astimezone(tz)
    charge_vat = regime == VatRegime.normal
    t = quote_totals(session, quote, site)
    lines = []
    for line in lines_of(session, quote.id):
        q = Decimal(line.quantity_milli) / 1000
        lines.append(
            {
                "description": line.description,
                "quantity": qty(q),
                "unit": unit_label(line.unit, q),
                "unit_price": eur(from_cents(line.unit_price_cents)),
                "vat_rate": pct(Decimal(line.vat_rate_bp) / 100),
                "total": eur(from_cents(line_total_cents(line.unit_price_cents, q))),
            }
        )
    logo = issuer.get("logo")
    logo_path = profiles_dir_file(profiles, logo) if logo else None
    previous = session.get(Quote, quote.previous_id) if quote.previous_id else None
    return {
        "title": quote.title,
        "doc_ref": f"Devis {quote.number}" if sent else "Projet de devis",
        "draft": not sent,
        "number": quote.number,
        "date": format_date(issued.date(), "long", locale=LOCALE),
        "validity_days": quote.validity_days,
        "valid_until": format_date(quote.valid_until, "long", locale=LOCALE)
        if quote.valid_until
        else None,
        "previous_number": previous.number if previous else None,
        "issuer": issuer,
        "client": client,
        "logo_url": logo_path.as_uri() if logo_path else None,
        "charge_vat": charge_vat,
        "lines": lines,
        "total_ht": eur(from_cents(t.ht_cents)),
        "vat": [
            {
                "rate": pct(v.rate),
                "base": eur(from_cents(v.base_ht_cents)),
                "amount": eur(from_cents(v.vat_cents)),
            }
            for v in t.vat
        ],
        "total_ttc": eur(from_cents(t.ttc_cents)),
        "mention": "" if charge_vat else mention,
        "lead_time": quote.lead_time,
        "payment_terms": quote.payment_terms,
        "notes": quote.notes,
        "accepted": quote.accepted_at is not None
        and quote.state in (QuoteState.accepted, QuoteState.converted),
        "accepted_at": format_datetime(
            quote.accepted_at.astimezone(tz), "d MMMM y 'à' HH:mm", locale=LOCALE
        )
        if quote.accepted_at
        else None,
        "accepted_by": quote.accepted_by_name,
        "accepted_via": _VIA.get(quote.acceptance_via) if quote.acceptance_via else None,
        "signed_on": format_date(quote.signed_on, "long", locale=LOCALE)
        if quote.signed_on
        else None,
    }


def profiles_dir_file(profiles: ProfileSet, name: str) -> Path | None:
    root = profiles.root
    if root is None:
        return None
    path = (root / name).resolve()
    return path if path.is_file() and path.is_relative_to(root.resolve()) else None


def render_html(session: Session, quote: Quote, profiles: ProfileSet, at: datetime) -> str:
    return _env.get_template("quotes/devis.html").render(**context(session, quote, profiles, at))


def render_pdf(session: Session, quote: Quote, profiles: ProfileSet, at: datetime) -> bytes:
    from weasyprint import HTML  # heavy import (pango): only when a PDF is asked for

    html = render_html(session, quote, profiles, at)
    pdf: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return pdf
