"""Invoices, credit notes, payments and the books (staff only).

Thin: parse, call a service in ``fabqueue.invoices``, return a public shape. The
services own the unit of work (they commit).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from fabqueue.api.deps import (
    CtxDep,
    IdPath,
    OptionalIdQuery,
    ReadSessionDep,
    SessionDep,
    StaffUser,
)
from fabqueue.context import AppContext
from fabqueue.invoices import bookings as invoice_bookings
from fabqueue.invoices import books, credit_notes, drafts, issuing, payments, views
from fabqueue.models.invoices import InvoiceKind, InvoiceState, Payment, PaymentMethod
from fabqueue.models.types import MAX_ID
from fabqueue.pricing import from_cents
from fabqueue.services.errors import Conflict, NotFound
from fabqueue.storage import FileMissing

router = APIRouter(tags=["invoices"])


class FromQuote(BaseModel):
    quote_id: int = Field(ge=1, le=MAX_ID)


class DepositIn(BaseModel):
    quote_id: int = Field(ge=1, le=MAX_ID)
    percent: Decimal = Field(gt=0, le=100)


class CounterIn(BaseModel):
    job_ids: list[int] = Field(min_length=1, max_length=200)
    organisation_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    customer_name: str | None = Field(None, max_length=200)
    business: bool = False
    till_reference: str | None = Field(None, max_length=120)
    discount_percent: Decimal = Field(Decimal(0), ge=0, le=100)


class PaymentBody(BaseModel):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    method: PaymentMethod
    paid_on: date
    reference: str = Field("", max_length=120)

    def read(self) -> payments.PaymentIn:
        return payments.PaymentIn(**self.model_dump())


class CreditIn(BaseModel):
    invoice_id: int = Field(ge=1, le=MAX_ID)
    line_ids: list[int] | None = None
    """None: every line not credited yet."""
    reason: str = Field(min_length=1, max_length=500)


class OverdueRow(BaseModel):
    invoice: views.InvoicePublic
    balance_due: Decimal


def _fresh(ctx: AppContext, invoice_id: int | None) -> views.InvoicePublic:
    assert invoice_id is not None
    with ctx.read_sessions() as session:
        return views.to_public(session, views.get_invoice(session, invoice_id))


def _fresh_payment(ctx: AppContext, payment: Payment) -> views.PaymentPublic:
    with ctx.read_sessions() as session:
        return views.payment_public(session, payment)


def _site_tz_today(ctx: AppContext) -> date:
    now = ctx.clock.now()
    site = ctx.profiles.site
    return now.astimezone(site.tz).date() if site else now.date()


# --- invoices -----------------------------------------------------------------------


@router.post("/invoices/from-quote", status_code=status.HTTP_201_CREATED)
def from_quote(
    body: FromQuote, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.InvoicePublic:
    """A draft of the quote's jobs done and not invoiced yet."""
    inv = drafts.draft_from_quote(
        session=session, user=user, quote_id=body.quote_id, at=ctx.clock.now()
    )
    return _fresh(ctx, inv.id)


@router.post("/invoices/deposit", status_code=status.HTTP_201_CREATED)
def deposit(
    body: DepositIn, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.InvoicePublic:
    inv = drafts.draft_deposit(
        session=session,
        user=user,
        quote_id=body.quote_id,
        percent=body.percent,
        at=ctx.clock.now(),
    )
    return _fresh(ctx, inv.id)


@router.post("/invoices/counter", status_code=status.HTTP_201_CREATED)
def counter(
    body: CounterIn, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.InvoicePublic:
    sale = drafts.CounterSale(**body.model_dump())
    inv = drafts.draft_counter(
        session=session, user=user, sale=sale, profiles=ctx.profiles, at=ctx.clock.now()
    )
    return _fresh(ctx, inv.id)


class MemberIn(BaseModel):
    member_id: int = Field(ge=1, le=MAX_ID)


class MemberBookingsIn(BaseModel):
    member_id: int = Field(ge=1, le=MAX_ID)
    booking_ids: list[int] | None = Field(None, max_length=500)
    """None: every booking of the member to invoice."""


class BookingToInvoice(BaseModel):
    id: int
    machine: str
    starts_at: datetime
    ends_at: datetime
    no_show: bool


@router.post("/invoices/member-time", status_code=status.HTTP_201_CREATED)
def member_time(
    body: MemberIn, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.InvoicePublic:
    """A draft of a member's machine time (jobs made), when prices.toml charges it."""
    inv = drafts.draft_member_time(
        session=session,
        user=user,
        member_id=body.member_id,
        profiles=ctx.profiles,
        at=ctx.clock.now(),
    )
    return _fresh(ctx, inv.id)


@router.get("/invoices/member-bookings")
def member_bookings_to_invoice(
    ctx: CtxDep,
    session: ReadSessionDep,
    _user: StaffUser,
    member_id: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> list[BookingToInvoice]:
    """A member's bookings that ended and that prices.toml bills, not invoiced yet."""
    rows = invoice_bookings.bookings_to_invoice(
        session, member_id, ctx.profiles.prices.members, ctx.clock.now()
    )
    return [
        BookingToInvoice(
            id=b.id or 0,
            machine=b.machine,
            starts_at=b.starts_at,
            ends_at=b.ends_at,
            no_show=b.no_show_at is not None,
        )
        for b in rows
    ]


@router.post("/invoices/member-bookings", status_code=status.HTTP_201_CREATED)
def member_bookings(
    body: MemberBookingsIn, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.InvoicePublic:
    """A draft of a member's booked machine time: one line per booking."""
    inv = invoice_bookings.draft_member_bookings(
        session=session,
        user=user,
        member_id=body.member_id,
        profiles=ctx.profiles,
        at=ctx.clock.now(),
        booking_ids=body.booking_ids,
    )
    return _fresh(ctx, inv.id)


@router.get("/invoices")
def list_invoices(
    session: ReadSessionDep,
    _user: StaffUser,
    kind: InvoiceKind | None = None,
    state: InvoiceState | None = None,
    quote_id: OptionalIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> views.InvoicesPublic:
    rows = views.list_invoices(
        session, kind=kind, state=state, quote_id=quote_id, limit=limit, offset=offset
    )
    return views.InvoicesPublic(data=[views.to_public(session, r) for r in rows], count=len(rows))


@router.get("/invoices/overdue")
def overdue(ctx: CtxDep, session: ReadSessionDep, _user: StaffUser) -> list[OverdueRow]:
    return [
        OverdueRow(invoice=views.to_public(session, inv), balance_due=from_cents(left))
        for inv, left in payments.overdue(session, _site_tz_today(ctx))
    ]


@router.get("/invoices/{invoice_id}")
def get_invoice(
    invoice_id: IdPath, session: ReadSessionDep, _user: StaffUser
) -> views.InvoicePublic:
    return views.to_public(session, views.get_invoice(session, invoice_id))


@router.get("/invoices/{invoice_id}/events")
def invoice_events(
    invoice_id: IdPath, session: ReadSessionDep, _user: StaffUser
) -> list[views.InvoiceEventPublic]:
    views.get_invoice(session, invoice_id)
    return views.events_of(session, invoice_id)


@router.get("/invoices/{invoice_id}/pdf", response_class=Response)
def invoice_pdf(
    invoice_id: IdPath, ctx: CtxDep, session: ReadSessionDep, _user: StaffUser
) -> Response:
    """The PDF exactly as issued (from the archive), Factur-X XML inside."""
    return _archived(ctx, session, invoice_id)


def _archived(ctx: AppContext, session: Session, invoice_id: int) -> Response:
    inv = views.get_invoice(session, invoice_id)
    if inv.pdf_sha256 is None:
        raise Conflict("a draft has no PDF: issue it first", state=inv.state.value)
    try:
        path = ctx.store.fetch(inv.pdf_sha256)
    except FileMissing as exc:
        raise NotFound(
            f"the archived PDF of {inv.number} is missing: run `fabqueue books verify`"
        ) from exc
    return Response(
        path.read_bytes(),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{inv.number}.pdf"'},
    )


@router.post("/invoices/{invoice_id}/issue")
def issue(
    invoice_id: IdPath, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.InvoicePublic:
    inv = issuing.issue(
        session=session,
        user=user,
        invoice_id=invoice_id,
        profiles=ctx.profiles,
        store=ctx.store,
        at=ctx.clock.now(),
    )
    return _fresh(ctx, inv.id)


@router.post("/invoices/{invoice_id}/cancel")
def cancel(
    invoice_id: IdPath, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.InvoicePublic:
    inv = drafts.cancel_draft(session=session, user=user, invoice_id=invoice_id, at=ctx.clock.now())
    return _fresh(ctx, inv.id)


@router.post("/invoices/{invoice_id}/payments", status_code=status.HTTP_201_CREATED)
def pay(
    invoice_id: IdPath, body: PaymentBody, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.PaymentPublic:
    p = payments.record_payment(
        session=session,
        user=user,
        invoice_id=invoice_id,
        data=body.read(),
        at=ctx.clock.now(),
    )
    return _fresh_payment(ctx, p)


# --- credit notes -------------------------------------------------------------------


@router.post("/credit-notes", status_code=status.HTTP_201_CREATED)
def credit(
    body: CreditIn, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.InvoicePublic:
    note = credit_notes.credit(
        session=session,
        user=user,
        invoice_id=body.invoice_id,
        line_ids=body.line_ids,
        reason=body.reason,
        profiles=ctx.profiles,
        store=ctx.store,
        at=ctx.clock.now(),
    )
    return _fresh(ctx, note.id)


@router.post("/credit-notes/{note_id}/refunds", status_code=status.HTTP_201_CREATED)
def refund(
    note_id: IdPath, body: PaymentBody, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> views.PaymentPublic:
    """Money paid back to the client on a credit note (a negative payment); at most what
    the café owes on the corrected invoice."""
    p = payments.record_refund(
        session=session,
        user=user,
        credit_note_id=note_id,
        data=body.read(),
        at=ctx.clock.now(),
    )
    return _fresh_payment(ctx, p)


@router.get("/credit-notes")
def list_credit_notes(session: ReadSessionDep, _user: StaffUser) -> views.InvoicesPublic:
    rows = views.list_invoices(session, kind=InvoiceKind.credit_note, limit=500)
    return views.InvoicesPublic(data=[views.to_public(session, r) for r in rows], count=len(rows))


@router.get("/credit-notes/{note_id}/pdf", response_class=Response)
def credit_note_pdf(
    note_id: IdPath, ctx: CtxDep, session: ReadSessionDep, _user: StaffUser
) -> Response:
    return _archived(ctx, session, note_id)


# --- payments and books ----------------------------------------------------------------


@router.get("/payments", response_class=Response)
def payments_export(session: ReadSessionDep, _user: StaffUser, start: date, end: date) -> Response:
    """The payments recorded between two dates (inclusive), as CSV."""
    return _csv(books.payments_csv(session, start, end), f"reglements-{start}-{end}.csv")


@router.get("/books/sales", response_class=Response)
def sales_export(session: ReadSessionDep, _user: StaffUser, start: date, end: date) -> Response:
    return _csv(books.sales_csv(session, start, end), f"ventes-{start}-{end}.csv")


@router.get("/books/fec", response_class=Response)
def fec(
    ctx: CtxDep,
    session: ReadSessionDep,
    _user: StaffUser,
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> Response:
    site = ctx.profiles.site
    if site is None:
        raise Conflict("the café's identity is not set up: write profiles/site.toml first")
    return Response(
        books.fec_bytes(session, year, site.accounts),
        media_type=f"text/tab-separated-values; charset={books.FEC_ENCODING}",
        headers={
            "Content-Disposition": f'attachment; filename="{books.fec_filename(site.siret, year)}"'
        },
    )


class VerifyReport(BaseModel):
    ok: bool
    problems: list[str]


@router.get("/books/verify")
def verify(ctx: CtxDep, session: ReadSessionDep, _user: StaffUser) -> VerifyReport:
    problems = books.verify(session, ctx.store)
    return VerifyReport(ok=not problems, problems=problems)


def _csv(text: str, name: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
