"""The facture, facture d'acompte or avoir as a PDF/A-3 carrying its Factur-X XML.

Printed from what was frozen when it was issued (café identity, client, lines, VAT
regime, totals), so the same document comes out years later whatever the profiles say.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.dates import format_date
from sqlmodel import Session

from fabqueue.invoices import facturx
from fabqueue.invoices.facturx import Renderer, factur_x_xml
from fabqueue.models import Quote
from fabqueue.models.invoices import Invoice, InvoiceKind, InvoiceLine
from fabqueue.pricing import from_cents, line_total_cents
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.site import VatRegime
from fabqueue.quotes.pdf import (
    LOCALE,
    TEMPLATES,
    _env,
    eur,
    pct,
    profiles_dir_file,
    qty,
    unit_label,
)

HEADINGS = {
    InvoiceKind.invoice: "Facture n° {}",
    InvoiceKind.deposit: "Facture d'acompte n° {}",
    InvoiceKind.credit_note: "Avoir n° {}",
}


def _line(line: InvoiceLine) -> dict[str, str]:
    q = Decimal(line.quantity_milli) / 1000
    return {
        "description": line.description,
        "quantity": qty(q),
        "unit": unit_label(line.unit, q),
        "unit_price": eur(from_cents(line.unit_price_cents)),
        "vat_rate": pct(Decimal(line.vat_rate_bp) / 100),
        "total": eur(from_cents(line_total_cents(line.unit_price_cents, q))),
    }


def _day(value: Any) -> str:
    return format_date(value, "long", locale=LOCALE) if value else ""


def context(
    session: Session, invoice: Invoice, lines: list[InvoiceLine], profiles: ProfileSet
) -> dict[str, Any]:
    assert invoice.number is not None
    issuer = invoice.issuer
    charge_vat = invoice.vat_regime == VatRegime.normal
    corrected = session.get(Invoice, invoice.corrects_id) if invoice.corrects_id else None
    quote = session.get(Quote, invoice.quote_id) if invoice.quote_id else None
    logo = issuer.get("logo")
    logo_path = profiles_dir_file(profiles, logo) if logo else None
    return {
        "title": invoice.title,
        "doc_ref": HEADINGS[invoice.kind].format(invoice.number),
        "heading": HEADINGS[invoice.kind].format(invoice.number),
        "credit": invoice.kind == InvoiceKind.credit_note,
        "date": _day(invoice.issue_date),
        "service_date": _day(invoice.service_date),
        "due_date": _day(invoice.due_date),
        "corrects": corrected.number if corrected else None,
        "corrects_date": _day(corrected.issue_date) if corrected else None,
        "quote_number": quote.number if quote else None,
        "issuer": issuer,
        "client": invoice.client,
        "business": invoice.business,
        "logo_url": logo_path.as_uri() if logo_path else None,
        "charge_vat": charge_vat,
        "lines": [_line(ln) for ln in lines],
        "total_ht": eur(from_cents(invoice.total_ht_cents or 0)),
        "total_vat": eur(from_cents(invoice.total_vat_cents or 0)),
        "vat": [
            {
                "rate": pct(Decimal(v["rate_bp"]) / 100),
                "base": eur(from_cents(v["base_cents"])),
                "amount": eur(from_cents(v["vat_cents"])),
            }
            for v in invoice.vat_breakdown
        ],
        "total_ttc": eur(from_cents(invoice.total_ttc_cents or 0)),
        "mention": "" if charge_vat else (invoice.vat_mention or ""),
        "payment_terms": issuer.get("payment_terms", ""),
        "late_penalty_rate": issuer.get("late_penalty_rate", ""),
        "till_reference": invoice.till_reference,
        "notes": invoice.notes,
    }


def render_html(
    session: Session, invoice: Invoice, lines: list[InvoiceLine], profiles: ProfileSet
) -> str:
    return _env.get_template("invoices/facture.html").render(
        **context(session, invoice, lines, profiles)
    )


def render_pdf(
    session: Session, invoice: Invoice, lines: list[InvoiceLine], profiles: ProfileSet
) -> bytes:
    """PDF/A-3b from WeasyPrint, then the Factur-X XML attached and checked."""
    from weasyprint import HTML  # heavy import (pango): only when a PDF is asked for

    html = render_html(session, invoice, lines, profiles)
    pdf: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf(pdf_variant="pdf/a-3b")
    xml = factur_x_xml(session, invoice, lines)
    title = HEADINGS[invoice.kind].format(invoice.number)
    return facturx.embed(pdf, xml, title=title, author=str(invoice.issuer.get("name", "")))


def renderer(profiles: ProfileSet) -> Renderer:
    def render(session: Session, invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
        return render_pdf(session, invoice, lines, profiles)

    return render
