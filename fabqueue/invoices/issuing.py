"""Issuing: number, freeze, check, chain — in one short transaction; then print and
archive.

The number comes from ``invoice_sequence`` (one row per series and year, read ``FOR
UPDATE``) in the transaction that issues the invoice: if anything fails before the
commit, the number is not used and the series keeps no gap. The same lock orders the
chain: each record's footprint covers the previous one's in its series and year. The
PDF is made from the frozen record after the commit (see :func:`issue_locked`).
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from fabqueue.invoices.bookings import claim as claim_bookings
from fabqueue.invoices.drafts import actor_of, check_staff, lines_of_invoice
from fabqueue.invoices.facturx import Renderer, factur_x_xml
from fabqueue.invoices.states import move, record
from fabqueue.models import Job, Organisation, StoredFile, User
from fabqueue.models.invoices import (
    Invoice,
    InvoiceJob,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceState,
)
from fabqueue.pricing import LineAmount, Totals, line_total_cents, totals
from fabqueue.profiles import ProfileSet, SiteProfile
from fabqueue.profiles.site import VatRegime
from fabqueue.quotes.sending import client_snapshot, issuer_snapshot, local_date
from fabqueue.services.errors import Conflict, NotFound
from fabqueue.storage import FileStore

MILLI = Decimal(1000)
PDF_LIMIT = 50 * 1024 * 1024


def allocate_number(session: Session, series: str, year: int) -> int:
    """The next number of ``series`` in ``year``, under the sequence row's lock."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(InvoiceSequence)
        .values(series=series, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["series", "year"])
    )
    row = session.exec(
        select(InvoiceSequence)
        .where(InvoiceSequence.series == series)
        .where(InvoiceSequence.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    row.last += 1
    session.add(row)
    session.flush()
    return row.last


def invoice_totals(lines: list[InvoiceLine], regime: VatRegime) -> Totals:
    """HT per rate on the sum of that rate's lines (a discount or a deposit deducted
    lowers its own rate's base), VAT once per rate, TTC."""
    bases: dict[int, int] = {}
    for ln in lines:
        cents = line_total_cents(ln.unit_price_cents, Decimal(ln.quantity_milli) / MILLI)
        bases[ln.vat_rate_bp] = bases.get(ln.vat_rate_bp, 0) + cents
    negative = [bp for bp, cents in bases.items() if cents < 0]
    if negative:
        raise Conflict("the discounts and deposits deducted exceed what the invoice bills")
    return totals(
        (LineAmount(cents, Decimal(1), Decimal(bp) / 100) for bp, cents in bases.items()),
        charge_vat=regime == VatRegime.normal,
    )


def series_of(invoice: Invoice, site: SiteProfile) -> str:
    return (
        site.credit_note_prefix if invoice.kind == InvoiceKind.credit_note else site.invoice_prefix
    )


def _client(session: Session, invoice: Invoice) -> dict[str, Any]:
    if invoice.organisation_id is None:
        return {"name": invoice.customer_name or "", "address": []}
    org = session.get(Organisation, invoice.organisation_id)
    assert org is not None
    if not org.address.strip():
        raise Conflict(f"{org.name} has no address; an invoice must show the client's address")
    return client_snapshot(org)


def _service_date(session: Session, invoice: Invoice, today: date, tz: Any) -> date:
    """The day the work was done: the last of its jobs' ends, else the issue date."""
    ends = session.exec(
        select(Job.updated_at)
        .join(InvoiceJob, col(InvoiceJob.job_id) == col(Job.id))
        .where(InvoiceJob.invoice_id == invoice.id)
    ).all()
    return max((e.astimezone(tz).date() for e in ends), default=today)


def footprint_payload(invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
    """What the footprint covers: everything printed that matters to the books."""
    data = {
        "number": invoice.number,
        "kind": invoice.kind.value,
        "issue_date": str(invoice.issue_date),
        "service_date": str(invoice.service_date),
        "client": invoice.client.get("name"),
        "corrects_id": invoice.corrects_id,
        "total_ht_cents": invoice.total_ht_cents,
        "total_vat_cents": invoice.total_vat_cents,
        "total_ttc_cents": invoice.total_ttc_cents,
        "lines": [
            [ln.description, ln.quantity_milli, ln.unit_price_cents, ln.vat_rate_bp] for ln in lines
        ],
        "previous": invoice.previous_footprint,
    }
    return json.dumps(data, sort_keys=True, ensure_ascii=False).encode()


def footprint_of(invoice: Invoice, lines: list[InvoiceLine]) -> str:
    return hashlib.sha256(footprint_payload(invoice, lines)).hexdigest()


def previous_footprint(session: Session, series: str, year: int, seq: int) -> str | None:
    if seq == 1:
        return None
    prev = session.exec(
        select(Invoice.footprint)
        .where(Invoice.series == series)
        .where(Invoice.year == year)
        .where(Invoice.seq == seq - 1)
    ).first()
    return prev


def _freeze(
    session: Session, invoice: Invoice, lines: list[InvoiceLine], site: SiteProfile, at: datetime
) -> None:
    today = local_date(at, site.tz)
    invoice.series = series_of(invoice, site)
    seq = allocate_number(session, invoice.series, today.year)
    invoice.number = f"{invoice.series}-{today.year}-{seq:04d}"
    invoice.year, invoice.seq = today.year, seq
    invoice.issue_date = today
    invoice.service_date = invoice.service_date or _service_date(session, invoice, today, site.tz)
    invoice.due_date = today + timedelta(days=site.payment_days)
    invoice.vat_regime = site.vat_regime
    invoice.vat_mention = site.mention
    invoice.issuer = {
        **issuer_snapshot(site),
        "payment_days": site.payment_days,
        "late_penalty_rate": site.late_penalty_rate,
        "payment_terms": site.payment_terms,
    }
    invoice.client = _client(session, invoice)
    t = invoice_totals(lines, site.vat_regime)
    invoice.total_ht_cents, invoice.total_vat_cents, invoice.total_ttc_cents = (
        t.ht_cents,
        t.vat_cents,
        t.ttc_cents,
    )
    invoice.vat_breakdown = [
        {"rate_bp": int(v.rate * 100), "base_cents": v.base_ht_cents, "vat_cents": v.vat_cents}
        for v in t.vat
    ]
    invoice.previous_footprint = previous_footprint(session, invoice.series, today.year, seq)


def issue_locked(
    session: Session, invoice: Invoice, *, actor: str, site: SiteProfile, at: datetime
) -> Invoice:
    """Number, freeze and chain a draft the caller has locked in this transaction; the
    caller commits, then archives its PDF (:func:`archive_pdf`).

    The PDF is made after the commit: WeasyPrint takes a few hundred milliseconds, and
    holding SQLite's write lock that long stalls every other writer (the dispatcher, the
    other clerks). Its Factur-X XML is built and checked against the XSD here, so a
    record that cannot be printed is refused before it takes a number.
    """
    if invoice.state != InvoiceState.draft:
        raise Conflict(
            f"only a draft is issued; invoice {invoice.number or invoice.id} is "
            f"{invoice.state.value}",
            state=invoice.state.value,
        )
    assert invoice.id is not None
    lines = lines_of_invoice(session, invoice.id)
    if not lines:
        raise Conflict("the invoice has no lines")
    _freeze(session, invoice, lines, site, at)
    if invoice.total_ttc_cents == 0 and invoice.kind != InvoiceKind.credit_note:
        # An accountant refuses invoices of 0 € (Fab Manager #102).
        raise Conflict("the invoice comes to 0 €: nothing to invoice")
    check_xml(session, invoice, lines)
    billed: dict[str, Any] = {"bookings": b} if (b := claim_bookings(session, invoice)) else {}
    invoice.footprint = footprint_of(invoice, lines)
    move(
        session,
        invoice,
        InvoiceState.issued,
        expected=[InvoiceState.draft],
        actor=actor,
        at=at,
        values={"issued_at": at},
        number=invoice.number,
        total_ttc_cents=invoice.total_ttc_cents,
        footprint=invoice.footprint,
        **billed,
    )
    return invoice


def check_xml(session: Session, invoice: Invoice, lines: list[InvoiceLine]) -> None:
    from facturx import xml_check_xsd

    try:
        xml_check_xsd(factur_x_xml(session, invoice, lines), flavor="factur-x", level="en16931")
    except Exception as exc:  # factur-x raises bare Exceptions on an invalid XML
        raise Conflict(f"the invoice's Factur-X XML is not valid: {exc}") from exc


def archive_pdf(
    *,
    session: Session,
    invoice_id: int,
    store: FileStore,
    render: Renderer,
    actor: str,
    at: datetime,
) -> str:
    """Print an issued record from what it froze, store the PDF, record its sha256 (on
    the record once, and in an event); commit. Returns the sha256.

    Runs right after issuing; if it failed then (a crash, a full disk), ``fabqueue books
    verify`` reports the record and running this again makes the same document.
    """
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.number is None:
        raise Conflict(f"invoice {invoice_id} is not issued: it has no PDF to archive")
    if invoice.pdf_sha256 is not None:
        return invoice.pdf_sha256
    lines = lines_of_invoice(session, invoice_id)
    pdf = render(session, invoice, lines)
    stored = store.save(io.BytesIO(pdf), limit=PDF_LIMIT)
    # The row keeps the archive out of the store's garbage collection (which removes
    # files no row refers to).
    if session.get(StoredFile, stored.sha256) is None:
        session.add(StoredFile(sha256=stored.sha256, size=stored.size, created_at=at))
    result = session.execute(
        update(Invoice)
        .where(col(Invoice.id) == invoice_id)
        .where(col(Invoice.pdf_sha256).is_(None))
        .values(pdf_sha256=stored.sha256)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount == 1:
        record(
            session, invoice, actor=actor, at=at, action="pdf_archived", pdf_sha256=stored.sha256
        )
    session.commit()
    session.refresh(invoice)
    assert invoice.pdf_sha256 is not None
    return invoice.pdf_sha256


def default_renderer(profiles: ProfileSet) -> Renderer:
    from fabqueue.invoices.pdf import renderer

    return renderer(profiles)


def issue(
    *,
    session: Session,
    user: User,
    invoice_id: int,
    profiles: ProfileSet,
    store: FileStore,
    at: datetime,
    render: Renderer | None = None,
) -> Invoice:
    """Number, freeze and chain a draft (one transaction), then print it as a PDF/A-3
    with its Factur-X XML and archive it."""
    check_staff(user)
    site = profiles.site
    if site is None:
        raise Conflict("the café's identity is not set up: write profiles/site.toml first")
    invoice = lock(session, invoice_id)
    invoice = issue_locked(session, invoice, actor=actor_of(user), site=site, at=at)
    session.commit()
    assert invoice.id is not None
    archive_pdf(
        session=session,
        invoice_id=invoice.id,
        store=store,
        render=render or default_renderer(profiles),
        actor=actor_of(user),
        at=at,
    )
    return invoice


def lock(session: Session, invoice_id: int) -> Invoice:
    invoice = session.exec(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice
