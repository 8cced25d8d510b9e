"""Public shapes of invoices and payments, and the reads the API, CLI and pages share."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import false, func, not_
from sqlmodel import Session, col, select

from fabqueue.invoices.booked_time import in_charged_booking
from fabqueue.invoices.drafts import lines_of_invoice
from fabqueue.invoices.payments import balance_cents, overdue, paid_cents, refund_due_cents
from fabqueue.invoices.states import ISSUED_STATES
from fabqueue.models import Job, Organisation, Quote, QuoteJob, QuoteState, Role, User
from fabqueue.models.invoices import (
    Invoice,
    InvoiceEvent,
    InvoiceJob,
    InvoiceKind,
    InvoiceState,
    Payment,
    PaymentMethod,
)
from fabqueue.pricing import from_cents, line_total_cents
from fabqueue.profiles.prices import MemberPrices
from fabqueue.services.errors import NotFound
from fabqueue.states import JobState


class InvoiceLinePublic(BaseModel):
    id: int
    position: int
    kind: str
    description: str
    quantity: Decimal
    unit: str
    unit_price_ht: Decimal
    vat_rate: Decimal
    total_ht: Decimal
    job_ids: list[int]
    credited_line_id: int | None


class InvoicePublic(BaseModel):
    id: int
    kind: InvoiceKind
    state: InvoiceState
    number: str | None
    title: str
    organisation_id: int | None
    customer_name: str | None
    quote_id: int | None
    corrects_id: int | None
    issue_date: date | None
    service_date: date | None
    due_date: date | None
    total_ht: Decimal | None
    total_vat: Decimal | None
    total_ttc: Decimal | None
    paid: Decimal
    balance_due: Decimal | None
    refund_due: Decimal | None = None
    """On a credit note: what the café still owes back to the client."""
    pdf_sha256: str | None
    footprint: str | None
    till_reference: str | None
    lines: list[InvoiceLinePublic]


class InvoicesPublic(BaseModel):
    data: list[InvoicePublic]
    count: int


class PaymentPublic(BaseModel):
    id: int
    invoice_id: int
    invoice_number: str | None
    amount: Decimal
    method: PaymentMethod
    paid_on: date
    reference: str
    recorded_at: datetime


class InvoiceEventPublic(BaseModel):
    at: datetime
    actor: str
    action: str
    from_state: InvoiceState | None
    to_state: InvoiceState | None
    detail: dict[str, Any] = Field(default_factory=dict)


def _money(cents: int | None) -> Decimal | None:
    return None if cents is None else from_cents(cents)


def to_public(session: Session, invoice: Invoice) -> InvoicePublic:
    assert invoice.id is not None
    issued = invoice.state in ISSUED_STATES and invoice.kind != InvoiceKind.credit_note
    lines = [
        InvoiceLinePublic(
            id=ln.id or 0,
            position=ln.position,
            kind=ln.kind.value,
            description=ln.description,
            quantity=Decimal(ln.quantity_milli) / 1000,
            unit=ln.unit,
            unit_price_ht=from_cents(ln.unit_price_cents),
            vat_rate=Decimal(ln.vat_rate_bp) / 100,
            total_ht=from_cents(
                line_total_cents(ln.unit_price_cents, Decimal(ln.quantity_milli) / 1000)
            ),
            job_ids=ln.job_ids,
            credited_line_id=ln.credited_line_id,
        )
        for ln in lines_of_invoice(session, invoice.id)
    ]
    return InvoicePublic(
        id=invoice.id,
        kind=invoice.kind,
        state=invoice.state,
        number=invoice.number,
        title=invoice.title,
        organisation_id=invoice.organisation_id,
        customer_name=invoice.customer_name,
        quote_id=invoice.quote_id,
        corrects_id=invoice.corrects_id,
        issue_date=invoice.issue_date,
        service_date=invoice.service_date,
        due_date=invoice.due_date,
        total_ht=_money(invoice.total_ht_cents),
        total_vat=_money(invoice.total_vat_cents),
        total_ttc=_money(invoice.total_ttc_cents),
        paid=from_cents(paid_cents(session, invoice.id)),
        balance_due=from_cents(balance_cents(session, invoice)) if issued else None,
        refund_due=from_cents(refund_due_cents(session, invoice))
        if invoice.kind == InvoiceKind.credit_note
        else None,
        pdf_sha256=invoice.pdf_sha256,
        footprint=invoice.footprint,
        till_reference=invoice.till_reference,
        lines=lines,
    )


def get_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def list_invoices(
    session: Session,
    *,
    kind: InvoiceKind | None = None,
    state: InvoiceState | None = None,
    quote_id: int | None = None,
    organisation_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Invoice]:
    query = select(Invoice)
    if organisation_id is not None:
        query = query.where(Invoice.organisation_id == organisation_id)
    if kind is not None:
        query = query.where(Invoice.kind == kind)
    if state is not None:
        query = query.where(Invoice.state == state)
    if quote_id is not None:
        query = query.where(Invoice.quote_id == quote_id)
    return list(session.exec(query.order_by(col(Invoice.id).desc()).offset(offset).limit(limit)))


def events_of(session: Session, invoice_id: int) -> list[InvoiceEventPublic]:
    rows = session.exec(
        select(InvoiceEvent)
        .where(InvoiceEvent.invoice_id == invoice_id)
        .order_by(col(InvoiceEvent.id))
    )
    return [
        InvoiceEventPublic(
            at=e.at,
            actor=e.actor,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            detail=e.detail,
        )
        for e in rows
    ]


def payment_public(session: Session, payment: Payment) -> PaymentPublic:
    invoice = session.get(Invoice, payment.invoice_id)
    return PaymentPublic(
        id=payment.id or 0,
        invoice_id=payment.invoice_id,
        invoice_number=invoice.number if invoice else None,
        amount=from_cents(payment.amount_cents),
        method=payment.method,
        paid_on=payment.paid_on,
        reference=payment.reference,
        recorded_at=payment.recorded_at,
    )


def payments_of(session: Session, invoice_id: int) -> list[PaymentPublic]:
    """The payments (and, on a credit note, the refunds) recorded against a record."""
    rows = session.exec(
        select(Payment).where(Payment.invoice_id == invoice_id).order_by(col(Payment.id))
    )
    return [payment_public(session, p) for p in rows]


def credit_notes_of(session: Session, invoice_id: int) -> list[Invoice]:
    return list(
        session.exec(
            select(Invoice)
            .where(Invoice.corrects_id == invoice_id)
            .where(Invoice.kind == InvoiceKind.credit_note)
            .order_by(col(Invoice.id))
        )
    )


# --- what the staff pages list ---------------------------------------------------------


def customer_label(session: Session, invoice: Invoice) -> str:
    """Who is billed: the name frozen on an issued record, else the draft's customer."""
    name = invoice.client.get("name") if invoice.client else None
    if name:
        return str(name)
    if invoice.organisation_id is not None:
        org = session.get(Organisation, invoice.organisation_id)
        return org.name if org else ""
    return invoice.customer_name or ""


def overdue_ids(session: Session, today: date) -> set[int]:
    return {inv.id for inv, _left in overdue(session, today) if inv.id is not None}


class QuoteToInvoice(BaseModel):
    id: int
    number: str | None
    title: str
    state: QuoteState
    organisation_name: str
    total_ht: Decimal | None


def quotes_to_invoice(session: Session, limit: int = 100) -> list[QuoteToInvoice]:
    """Accepted quotes (a deposit may be asked) and converted ones (their jobs made are
    invoiced), newest first."""
    rows = session.exec(
        select(Quote, Organisation)
        .join(Organisation, col(Organisation.id) == col(Quote.organisation_id))
        .where(col(Quote.state).in_([QuoteState.accepted, QuoteState.converted]))
        .order_by(col(Quote.id).desc())
        .limit(limit)
    ).all()
    return [
        QuoteToInvoice(
            id=q.id or 0,
            number=q.number,
            title=q.title,
            state=q.state,
            organisation_name=org.name,
            total_ht=_money(q.total_ht_cents),
        )
        for q, org in rows
    ]


class CounterJob(BaseModel):
    id: int
    title: str
    file_name: str
    copies: int
    kind: str
    finished_at: datetime


def counter_jobs(session: Session, limit: int = 100) -> list[CounterJob]:
    """Jobs made at the counter (not from a quote) and not on an invoice yet."""
    from_quote = select(QuoteJob.job_id)
    billed = select(InvoiceJob.job_id)
    rows = session.exec(
        select(Job)
        .where(Job.state == JobState.succeeded)
        .where(col(Job.id).not_in(from_quote))
        .where(col(Job.id).not_in(billed))
        .order_by(col(Job.updated_at).desc())
        .limit(limit)
    ).all()
    return [
        CounterJob(
            id=j.id or 0,
            title=j.title,
            file_name=j.file_name,
            copies=j.copies,
            kind=j.kind.value,
            finished_at=j.updated_at,
        )
        for j in rows
    ]


def organisations(session: Session) -> list[tuple[int, str]]:
    return [
        (o.id, o.name)
        for o in session.exec(select(Organisation).order_by(col(Organisation.name)))
        if o.id is not None
    ]


def members_to_invoice(
    session: Session, rules: MemberPrices | None = None
) -> list[tuple[int, str, int]]:
    """Members with jobs made and not invoiced yet: (id, name, how many jobs); with the
    price ``rules``, not counting jobs a billed booking covers."""
    covered = in_charged_booking(rules) if rules is not None else false()
    rows = session.exec(
        select(User.id, User.name, func.count(col(Job.id)))
        .join(Job, col(Job.owner_id) == col(User.id))
        .where(User.role == Role.member)
        .where(Job.state == JobState.succeeded)
        .where(col(Job.id).not_in(select(QuoteJob.job_id)))
        .where(col(Job.id).not_in(select(InvoiceJob.job_id)))
        .where(not_(covered))
        .group_by(col(User.id), col(User.name))
        .order_by(col(User.name))
    ).all()
    return [(uid, name, n) for uid, name, n in rows if uid is not None]
