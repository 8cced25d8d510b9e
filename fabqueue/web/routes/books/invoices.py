"""Invoices at the counter: the list (state, client, overdue), an invoice's page (lines,
totals, payments, balance, history, PDF), issuing from a converted quote or from counter
jobs, payments, credit notes and refunds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.invoices import bookings as invoice_bookings
from fabqueue.invoices import credit_notes, drafts, issuing, payments, views
from fabqueue.invoices.states import ISSUED_STATES, OPEN_STATES
from fabqueue.models import Quote, User
from fabqueue.models.invoices import Invoice, InvoiceKind, InvoiceState, PaymentMethod
from fabqueue.models.types import MAX_ID
from fabqueue.services.errors import NotFound, ServiceError
from fabqueue.storage import FileMissing
from fabqueue.web.page import Page, StaffPage, site_tz
from fabqueue.web.routes.books import forms
from fabqueue.web.routes.books.words import in_words

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Text = Annotated[str, Form(max_length=500)]
Ticks = Annotated[list[str] | None, Form()]


def today(page: Page) -> date:
    return page.ctx.clock.now().astimezone(site_tz(page.ctx)).date()


def refusal(page: Page, exc: ServiceError) -> str:
    if isinstance(exc, forms.FormError):
        return exc.message
    return in_words(exc.message, page.gettext)


def actor_names(session: Session, actors: set[str]) -> dict[str, str]:
    out = {}
    for actor in actors:
        kind, _, ident = actor.partition(":")
        user = session.get(User, int(ident)) if kind == "user" and ident.isdigit() else None
        out[actor] = user.name if user else actor
    return out


# --- the list -----------------------------------------------------------------------


@router.get("/invoices")
def invoice_list(page: StaffPage, state: str = "", client: str = "", overdue: str = "") -> Response:
    chosen = InvoiceState(state) if state in InvoiceState.__members__ else None
    org = int(client) if client.isdigit() and len(client) <= 12 else None
    with page.ctx.read_sessions() as session:
        late = views.overdue_ids(session, today(page))
        rows = views.list_invoices(session, state=chosen, organisation_id=org, limit=300)
        if overdue == "1":
            rows = [r for r in rows if r.id in late]
        invoices = [
            (views.to_public(session, r), views.customer_label(session, r), r.id in late)
            for r in rows
        ]
        orgs = views.organisations(session)
    return page.render(
        "pages/invoices/list.html",
        {
            "invoices": invoices,
            "orgs": orgs,
            "states": [s.value for s in InvoiceState],
            "filters": {"state": state, "client": client, "overdue": overdue == "1"},
        },
    )


# --- issuing ------------------------------------------------------------------------


def _render_new(page: Page, *, error: str | None = None, status: int = 200) -> Response:
    rules = page.ctx.profiles.prices.members
    with page.ctx.read_sessions() as session:
        context = {
            "quotes": views.quotes_to_invoice(session),
            "jobs": views.counter_jobs(session),
            "orgs": views.organisations(session),
            "members": views.members_to_invoice(session, rules) if rules.hourly_rate > 0 else [],
            "booked": invoice_bookings.members_with_bookings(session, rules, page.ctx.clock.now()),
            "error": error,
        }
    return page.render("pages/invoices/new.html", context, status=status)


@router.get("/invoices/new")
def new_invoice(page: StaffPage) -> Response:
    return _render_new(page)


def _render_quote(
    page: Page, quote_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    with page.ctx.read_sessions() as session:
        quote = session.get(Quote, quote_id)
        if quote is None:
            raise NotFound(f"no quote {quote_id}")
        billable = drafts.billable_lines(session, quote_id)
        earlier = [
            (views.to_public(session, inv), views.customer_label(session, inv))
            for inv in views.list_invoices(session, quote_id=quote_id, limit=100)
        ]
    return page.render(
        "pages/invoices/from_quote.html",
        {"quote": quote, "billable": billable, "earlier": earlier, "error": error},
        status=status,
    )


@router.get("/invoices/new/quote/{quote_id}")
def from_quote_page(quote_id: Id, page: StaffPage) -> Response:
    return _render_quote(page, quote_id)


def _draft(
    page: Page,
    csrf: str | None,
    idem: str | None,
    make: Callable[[Session], Invoice],
    back: Callable[..., Response],
) -> Response:
    """Draft an invoice with ``make`` (a service that drafts and commits) and go to it;
    on a refusal, ``back`` shows the form again with the reason."""
    return page.act(
        csrf,
        idem,
        lambda session: make(session).id,
        lambda new_id: page.redirect(f"/invoices/{new_id}"),
        lambda exc: back(error=refusal(page, exc), status=exc.status_code),
    )


@router.post("/invoices/from-quote")
def draft_from_quote(
    page: StaffPage,
    quote_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    line: Ticks = None,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def make(session: Session) -> Invoice:
        return drafts.draft_from_quote(
            session=session,
            user=page.me,
            quote_id=quote_id,
            at=page.ctx.clock.now(),
            quote_line_ids=forms.ids(line or []),
        )

    return _draft(page, csrf, idem, make, lambda **kw: _render_quote(page, quote_id, **kw))


@router.post("/invoices/deposit")
def draft_deposit(
    page: StaffPage,
    quote_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    percent: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def make(session: Session) -> Invoice:
        share = forms.percent(
            percent, page.gettext("Write the deposit as a percentage, for example 30.")
        )
        return drafts.draft_deposit(
            session=session, user=page.me, quote_id=quote_id, percent=share, at=page.ctx.clock.now()
        )

    return _draft(page, csrf, idem, make, lambda **kw: _render_quote(page, quote_id, **kw))


@router.post("/invoices/counter")
def draft_counter(
    page: StaffPage,
    job: Ticks = None,
    organisation_id: Annotated[str, Form(max_length=12)] = "",
    customer_name: Annotated[str, Form(max_length=200)] = "",
    business: Annotated[str, Form(max_length=4)] = "",
    till_reference: Annotated[str, Form(max_length=120)] = "",
    discount: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def make(session: Session) -> Invoice:
        off = (
            forms.percent(
                discount, page.gettext("Write the discount as a percentage, for example 10.")
            )
            if discount.strip()
            else forms.percent("0", "")
        )
        sale = drafts.CounterSale(
            job_ids=forms.ids(job or []),
            organisation_id=int(organisation_id) if organisation_id.isdigit() else None,
            customer_name=customer_name.strip() or None,
            business=business == "1",
            till_reference=till_reference.strip() or None,
            discount_percent=off,
        )
        return drafts.draft_counter(
            session=session, user=page.me, sale=sale, profiles=page.ctx.profiles,
            at=page.ctx.clock.now(),
        )  # fmt: skip

    return _draft(page, csrf, idem, make, lambda **kw: _render_new(page, **kw))


@router.post("/invoices/member-time")
def draft_member_time(
    page: StaffPage,
    member_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    """A member's machine time, when prices.toml charges it."""
    return _draft_for_member(page, member_id, csrf, idem, drafts.draft_member_time)


@router.post("/invoices/member-bookings")
def draft_member_bookings(
    page: StaffPage,
    member_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    """A member's booked machine time, when prices.toml charges it."""
    return _draft_for_member(page, member_id, csrf, idem, invoice_bookings.draft_member_bookings)


def _draft_for_member(
    page: Page,
    member_id: int,
    csrf: str | None,
    idem: str | None,
    drafter: Callable[..., Invoice],
) -> Response:
    def make(session: Session) -> Invoice:
        return drafter(
            session=session,
            user=page.me,
            member_id=member_id,
            profiles=page.ctx.profiles,
            at=page.ctx.clock.now(),
        )

    return _draft(page, csrf, idem, make, lambda **kw: _render_new(page, **kw))


# --- one invoice --------------------------------------------------------------------


def _render_invoice(
    page: Page, invoice_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    with page.ctx.read_sessions() as session:
        inv = views.get_invoice(session, invoice_id)
        public = views.to_public(session, inv)
        events = views.events_of(session, invoice_id)
        notes = [views.to_public(session, n) for n in views.credit_notes_of(session, invoice_id)]
        credited = drafts.credited_line_ids(session, invoice_id)
        corrects = views.get_invoice(session, inv.corrects_id) if inv.corrects_id else None
        context: dict[str, Any] = {
            "inv": public,
            "customer": views.customer_label(session, inv),
            "payments": views.payments_of(session, invoice_id),
            "events": events,
            "names": actor_names(session, {e.actor for e in events}),
            "notes": notes,
            "corrects": corrects,
            "creditable": [ln for ln in public.lines if ln.id not in credited]
            if inv.kind != InvoiceKind.credit_note and inv.state in ISSUED_STATES
            else [],
            "can_pay": inv.kind != InvoiceKind.credit_note and inv.state in OPEN_STATES,
            "overdue": invoice_id in views.overdue_ids(session, today(page)),
            "today": today(page).isoformat(),
            "methods": [m.value for m in PaymentMethod],
            "error": error,
        }
    return page.render("pages/invoices/invoice.html", context, status=status)


@router.get("/invoices/{invoice_id}")
def invoice_page(invoice_id: Id, page: StaffPage) -> Response:
    return _render_invoice(page, invoice_id)


@router.get("/invoices/{invoice_id}/pdf")
def invoice_pdf(invoice_id: Id, page: StaffPage) -> Response:
    """The PDF exactly as issued, from the archive (Factur-X inside)."""
    with page.ctx.read_sessions() as session:
        inv = views.get_invoice(session, invoice_id)
    if inv.pdf_sha256 is None:
        raise NotFound(page.gettext("A draft has no PDF yet: issue it first."))
    try:
        data = page.ctx.store.fetch(inv.pdf_sha256).read_bytes()
    except FileMissing as exc:
        raise NotFound(
            in_words(f"the archived PDF of {inv.number} is missing", page.gettext)
        ) from exc
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{inv.number}.pdf"'},
    )


def _invoice_refused(page: Page, invoice_id: int) -> Callable[[ServiceError], Response]:
    """A refusal shows the invoice's page with why."""
    return lambda exc: _render_invoice(
        page, invoice_id, error=refusal(page, exc), status=exc.status_code
    )


@router.post("/invoices/{invoice_id}/do/{action}")
def invoice_action(
    invoice_id: Id,
    action: str,
    page: StaffPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    """issue (number, freeze, PDF) or cancel (a draft only)."""
    # Checked here too, so that an unknown action is a 404 for a genuine form only.
    page.check_csrf(csrf)
    ctx = page.ctx
    if action not in ("issue", "cancel"):
        raise NotFound(f"no action {action!r}")

    def change(session: Session) -> None:
        if action == "issue":
            issuing.issue(
                session=session,
                user=page.me,
                invoice_id=invoice_id,
                profiles=ctx.profiles,
                store=ctx.store,
                at=ctx.clock.now(),
            )
        else:
            drafts.cancel_draft(
                session=session, user=page.me, invoice_id=invoice_id, at=ctx.clock.now()
            )

    return page.act(
        csrf, idem, change, f"/invoices/{invoice_id}", _invoice_refused(page, invoice_id)
    )


@dataclass
class MoneyForm:
    """A payment or a refund as typed (read once the form is known to be genuine)."""

    amount: Annotated[str, Form(max_length=40)] = ""
    method: Annotated[str, Form(max_length=20)] = ""
    paid_on: Annotated[str, Form(max_length=20)] = ""
    reference: Annotated[str, Form(max_length=120)] = ""

    def read(self, page: Page) -> payments.PaymentIn:
        _ = page.gettext
        return payments.PaymentIn(
            amount=forms.amount(self.amount, _("Write the amount in euros, for example 12,50.")),
            method=forms.method(self.method, _("Choose how it was paid.")),
            paid_on=forms.day(self.paid_on, _("Give the day it was paid.")),
            reference=self.reference.strip(),
        )


Money = Annotated[MoneyForm, Depends()]


@router.post("/invoices/{invoice_id}/payments")
def record_payment(
    invoice_id: Id,
    page: StaffPage,
    money: Money,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        payments.record_payment(
            session=session, user=page.me, invoice_id=invoice_id, data=money.read(page),
            at=page.ctx.clock.now(),
        )  # fmt: skip

    return page.act(
        csrf, idem, change, f"/invoices/{invoice_id}", _invoice_refused(page, invoice_id)
    )


@router.post("/invoices/{invoice_id}/refund")
def record_refund(
    invoice_id: Id,
    page: StaffPage,
    money: Money,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        payments.record_refund(
            session=session, user=page.me, credit_note_id=invoice_id, data=money.read(page),
            at=page.ctx.clock.now(),
        )  # fmt: skip

    return page.act(
        csrf, idem, change, f"/invoices/{invoice_id}", _invoice_refused(page, invoice_id)
    )


@router.post("/invoices/{invoice_id}/credit")
def credit(
    invoice_id: Id,
    page: StaffPage,
    line: Ticks = None,
    whole: Annotated[str, Form(max_length=4)] = "",
    reason: Text = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    """A credit note for the ticked lines, or for every line not credited yet."""

    def change(session: Session) -> int | None:
        return credit_notes.credit(
            session=session,
            user=page.me,
            invoice_id=invoice_id,
            line_ids=None if whole == "1" else forms.ids(line or []),
            reason=reason,
            profiles=page.ctx.profiles,
            store=page.ctx.store,
            at=page.ctx.clock.now(),
        ).id

    return page.act(
        csrf,
        idem,
        change,
        lambda note_id: page.redirect(f"/invoices/{note_id}"),
        _invoice_refused(page, invoice_id),
    )
