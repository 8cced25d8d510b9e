"""Draft invoices: from a converted quote's done jobs (partial invoicing), as a deposit
on an accepted quote, or from counter jobs priced by the pricing engine.

A job is billed once: :class:`~fabqueue.models.InvoiceJob` holds it from the draft on
(its primary key refuses a second bill), and cancelling the draft frees it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, not_
from sqlmodel import Session, col, select

from fabqueue.invoices.booked_time import in_charged_booking
from fabqueue.invoices.states import ISSUED_STATES, move, record
from fabqueue.models import Job, Organisation, Quote, QuoteJob, QuoteLine, QuoteState, User
from fabqueue.models.invoices import (
    Invoice,
    InvoiceJob,
    InvoiceKind,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceState,
)
from fabqueue.models.quotes import LineKind
from fabqueue.pricing import PriceInput, price_line, to_cents
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.prices import MemberPrices
from fabqueue.quotes.pricing import hourly_rate
from fabqueue.quotes.workflow import lines_of, lock
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound
from fabqueue.states import JobState
from jobs.base import Analysis

MILLI = 1000


def actor_of(user: User) -> str:
    return f"user:{user.id}"


def check_staff(user: User) -> None:
    if not user.is_staff:
        raise Forbidden("only staff make invoices")


def lines_of_invoice(session: Session, invoice_id: int) -> list[InvoiceLine]:
    return list(
        session.exec(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(col(InvoiceLine.position))
        )
    )


def new_draft(
    session: Session, user: User, kind: InvoiceKind, at: datetime, **values: object
) -> Invoice:
    invoice = Invoice(
        kind=kind,
        state=InvoiceState.draft,
        series="",
        created_by=actor_of(user),
        created_at=at,
        updated_at=at,
        **values,  # type: ignore[arg-type]
    )
    session.add(invoice)
    session.flush()
    return invoice


def add_lines(session: Session, invoice: Invoice, lines: list[InvoiceLine]) -> None:
    assert invoice.id is not None
    for position, line in enumerate(lines, start=1):
        line.invoice_id = invoice.id
        line.position = position
        session.add(line)
    session.flush()


# --- from a quote -------------------------------------------------------------------


def _converted_quote(session: Session, quote_id: int) -> Quote:
    quote = lock(session, quote_id)
    if quote.state != QuoteState.converted:
        raise Conflict(
            f"quote {quote.number or quote.id} is {quote.state.value}: only a quote whose "
            "jobs were made is invoiced (a deposit may be asked once it is accepted)",
            state=quote.state.value,
        )
    return quote


def _done_unbilled_jobs(session: Session, line: QuoteLine) -> tuple[list[int], int]:
    """The succeeded jobs of a design line not billed yet, and how many copies it has."""
    rows = session.exec(
        select(QuoteJob.job_id, Job.state)
        .join(Job, col(Job.id) == col(QuoteJob.job_id))
        .where(QuoteJob.quote_line_id == line.id)
    ).all()
    billed = set(
        session.exec(
            select(InvoiceJob.job_id).where(col(InvoiceJob.job_id).in_([r[0] for r in rows]))
        ).all()
    )
    done = [
        job_id for job_id, state in rows if state == JobState.succeeded and job_id not in billed
    ]
    return sorted(done), len(rows)


def _billed_quote_lines(session: Session, quote_id: int) -> set[int]:
    """Quote lines (other than designs) already on an invoice of this quote."""
    rows = session.exec(
        select(InvoiceLine.quote_line_id)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(Invoice.quote_id == quote_id)
        .where(Invoice.kind == InvoiceKind.invoice)
        .where(Invoice.state != InvoiceState.cancelled)
        .where(col(InvoiceLine.quote_line_id).is_not(None))
    ).all()
    return {r for r in rows if r is not None}


def _design_line(line: QuoteLine, job_ids: list[int]) -> InvoiceLine:
    return InvoiceLine(
        invoice_id=0,
        position=0,
        kind=InvoiceLineKind.item,
        description=line.description,
        quantity_milli=len(job_ids) * MILLI,
        unit=line.unit,
        unit_price_cents=line.unit_price_cents,
        vat_rate_bp=line.vat_rate_bp,
        account_key=line.machine_kind.value if line.machine_kind else "service",
        quote_line_id=line.id,
        job_ids=job_ids,
    )


def _other_line(line: QuoteLine) -> InvoiceLine:
    return InvoiceLine(
        invoice_id=0,
        position=0,
        kind=InvoiceLineKind.discount if line.kind == LineKind.discount else InvoiceLineKind.item,
        description=line.description,
        quantity_milli=line.quantity_milli,
        unit=line.unit,
        # A quote's discount line holds what it saves (positive); on the invoice it
        # lowers the total.
        unit_price_cents=-line.unit_price_cents
        if line.kind == LineKind.discount and line.unit_price_cents > 0
        else line.unit_price_cents,
        vat_rate_bp=line.vat_rate_bp,
        account_key="service",
        quote_line_id=line.id,
    )


@dataclass
class QuoteBill:
    lines: list[InvoiceLine]
    jobs: list[int]
    final: bool


def _bill_of(session: Session, quote: Quote, chosen: set[int] | None = None) -> QuoteBill:
    """What an invoice of the quote bills now: the design lines' copies made and not
    billed (only the ``chosen`` design lines, when given)."""
    assert quote.id is not None
    bill = QuoteBill([], [], True)
    others: list[QuoteLine] = []
    for line in lines_of(session, quote.id):
        if line.kind != LineKind.design:
            others.append(line)
            continue
        done, copies = _done_unbilled_jobs(session, line)
        if chosen is not None and line.id not in chosen:
            done = []
        billed_before = _billed_copies(session, line)
        if billed_before + len(done) < copies:
            bill.final = False
        if done:
            bill.lines.append(_design_line(line, done))
            bill.jobs.extend(done)
    if bill.final:
        # Free lines and the client's discount go on the invoice that completes the
        # quote: a partial invoice bills only the copies made.
        already = _billed_quote_lines(session, quote.id)
        bill.lines.extend(_other_line(ln) for ln in others if ln.id not in already)
    return bill


def _billed_copies(session: Session, line: QuoteLine) -> int:
    rows = session.exec(
        select(InvoiceJob.job_id)
        .join(QuoteJob, col(QuoteJob.job_id) == col(InvoiceJob.job_id))
        .where(QuoteJob.quote_line_id == line.id)
    ).all()
    return len(rows)


def _deposit_deductions(session: Session, quote: Quote) -> list[InvoiceLine]:
    """Negative lines taking off the deposits invoiced on the quote not deducted yet."""
    deposits = session.exec(
        select(Invoice)
        .where(Invoice.quote_id == quote.id)
        .where(Invoice.kind == InvoiceKind.deposit)
        .where(col(Invoice.state).in_(list(ISSUED_STATES)))
        .order_by(col(Invoice.id))
    ).all()
    deducted = set(
        session.exec(
            select(InvoiceLine.deposit_invoice_id)
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(Invoice.state != InvoiceState.cancelled)
            .where(col(InvoiceLine.deposit_invoice_id).is_not(None))
        ).all()
    )
    out = []
    for deposit in deposits:
        if deposit.id in deducted:
            continue
        assert deposit.id is not None
        # A deposit line a credit note took back was never owed: nothing to deduct.
        refunded = credited_line_ids(session, deposit.id)
        for line in lines_of_invoice(session, deposit.id):
            if line.id in refunded:
                continue
            out.append(
                InvoiceLine(
                    invoice_id=0,
                    position=0,
                    kind=InvoiceLineKind.deposit,
                    description=f"Acompte déduit, facture {deposit.number}",
                    quantity_milli=MILLI,
                    unit_price_cents=-line.unit_price_cents,
                    vat_rate_bp=line.vat_rate_bp,
                    account_key="deposit",
                    deposit_invoice_id=deposit.id,
                )
            )
    return out


def credited_line_ids(session: Session, invoice_id: int) -> set[int]:
    rows = session.exec(
        select(InvoiceLine.credited_line_id)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(Invoice.corrects_id == invoice_id)
        .where(col(InvoiceLine.credited_line_id).is_not(None))
    ).all()
    return {r for r in rows if r is not None}


@dataclass(frozen=True)
class Billable:
    """A design line of a converted quote, as the issuing page offers it."""

    quote_line_id: int
    description: str
    copies: int
    done_unbilled: int
    billed: int
    unit_price_cents: int


def billable_lines(session: Session, quote_id: int) -> list[Billable]:
    """The quote's design lines with their copies made and not billed yet (a read: the
    draft itself re-checks under the quote's lock)."""
    out = []
    for line in lines_of(session, quote_id):
        if line.kind != LineKind.design:
            continue
        assert line.id is not None
        done, copies = _done_unbilled_jobs(session, line)
        out.append(
            Billable(
                line.id,
                line.description,
                copies,
                len(done),
                _billed_copies(session, line),
                line.unit_price_cents,
            )
        )
    return out


def draft_from_quote(
    *,
    session: Session,
    user: User,
    quote_id: int,
    at: datetime,
    quote_line_ids: list[int] | None = None,
) -> Invoice:
    """A draft invoice of the quote's jobs done and not billed yet (of the design lines
    ``quote_line_ids`` only, when given: the rest waits for a later invoice).

    The invoice that completes the quote (every copy made) also carries the quote's
    free lines and discount, and deducts the deposits already invoiced.
    """
    check_staff(user)
    quote = _converted_quote(session, quote_id)
    if quote_line_ids is not None and not quote_line_ids:
        raise Invalid("choose at least one line to invoice")
    bill = _bill_of(session, quote, None if quote_line_ids is None else set(quote_line_ids))
    if not any(ln.job_ids for ln in bill.lines) and not bill.final:
        raise Conflict(
            f"nothing to invoice on quote {quote.number}: no job of it succeeded since "
            "its last invoice"
        )
    if bill.final:
        bill.lines.extend(_deposit_deductions(session, quote))
    if not bill.lines:
        raise Conflict(f"quote {quote.number} is invoiced in full already")
    invoice = new_draft(
        session,
        user,
        InvoiceKind.invoice,
        at,
        organisation_id=quote.organisation_id,
        quote_id=quote.id,
        title=f"{quote.title} (devis {quote.number})",
        business=True,
    )
    add_lines(session, invoice, bill.lines)
    hold_jobs(session, invoice, bill.jobs)
    record(
        session,
        invoice,
        actor=actor_of(user),
        at=at,
        action="drafted",
        quote=quote.number,
        jobs=bill.jobs,
        final=bill.final,
    )
    session.commit()
    return invoice


def hold_jobs(session: Session, invoice: Invoice, job_ids: list[int]) -> None:
    assert invoice.id is not None
    for job_id in job_ids:
        session.add(InvoiceJob(job_id=job_id, invoice_id=invoice.id))
    session.flush()


# --- deposit ------------------------------------------------------------------------


def draft_deposit(
    *, session: Session, user: User, quote_id: int, percent: Decimal, at: datetime
) -> Invoice:
    """A deposit invoice of ``percent`` of an accepted quote, one line per VAT rate."""
    check_staff(user)
    if not Decimal(0) < percent <= Decimal(100):
        raise Invalid("a deposit is more than 0 % and at most 100 % of the quote")
    quote = lock(session, quote_id)
    if quote.state not in (QuoteState.accepted, QuoteState.converted):
        raise Conflict(
            f"quote {quote.number or quote.id} is {quote.state.value}: a deposit is asked "
            "on an accepted quote",
            state=quote.state.value,
        )
    assert quote.id is not None
    bases: dict[int, int] = {}
    for line in lines_of(session, quote.id):
        cents = _line_cents(line)
        bases[line.vat_rate_bp] = bases.get(line.vat_rate_bp, 0) + cents
    lines = [
        InvoiceLine(
            invoice_id=0,
            position=0,
            kind=InvoiceLineKind.deposit,
            description=f"Acompte de {_pct(percent)} % sur le devis {quote.number}",
            quantity_milli=MILLI,
            unit_price_cents=int(
                (Decimal(base) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            ),
            vat_rate_bp=rate_bp,
            account_key="deposit",
        )
        for rate_bp, base in sorted(bases.items(), reverse=True)
        if base > 0
    ]
    invoice = new_draft(
        session,
        user,
        InvoiceKind.deposit,
        at,
        organisation_id=quote.organisation_id,
        quote_id=quote.id,
        title=f"Acompte — {quote.title} (devis {quote.number})",
    )
    add_lines(session, invoice, lines)
    record(session, invoice, actor=actor_of(user), at=at, action="drafted", percent=str(percent))
    session.commit()
    return invoice


def _line_cents(line: QuoteLine) -> int:
    from fabqueue.pricing import line_total_cents

    cents = line_total_cents(line.unit_price_cents, Decimal(line.quantity_milli) / MILLI)
    return -abs(cents) if line.kind == LineKind.discount else cents


def _pct(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")


# --- counter ------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterSale:
    job_ids: list[int]
    organisation_id: int | None = None
    customer_name: str | None = None
    business: bool = False
    till_reference: str | None = None
    discount_percent: Decimal = Decimal(0)
    discount_label: str = "Remise"


def draft_counter(
    *, session: Session, user: User, sale: CounterSale, profiles: ProfileSet, at: datetime
) -> Invoice:
    """A draft invoice of counter jobs (no quote), priced by the pricing engine."""
    check_staff(user)
    if not sale.job_ids:
        raise Invalid("name the jobs to invoice")
    if sale.organisation_id is None and not (sale.customer_name or "").strip():
        raise Invalid("an invoice names its customer: give an organisation or a name")
    if sale.organisation_id is not None and session.get(Organisation, sale.organisation_id) is None:
        raise NotFound(f"no client organisation {sale.organisation_id}")
    if not Decimal(0) <= sale.discount_percent <= Decimal(100):
        raise Invalid("a discount is between 0 and 100 %")
    site = profiles.site
    rate_bp = int(site.line_vat_rate() * 100) if site else 0
    lines = [_counter_line(session, profiles, job_id, rate_bp) for job_id in sale.job_ids]
    lines.extend(_discount_lines(lines, sale))
    invoice = new_draft(
        session,
        user,
        InvoiceKind.invoice,
        at,
        organisation_id=sale.organisation_id,
        customer_name=sale.customer_name,
        business=sale.business or sale.organisation_id is not None,
        till_reference=sale.till_reference,
        title="Travaux au comptoir",
    )
    add_lines(session, invoice, lines)
    hold_jobs(session, invoice, list(sale.job_ids))
    record(session, invoice, actor=actor_of(user), at=at, action="drafted", jobs=sale.job_ids)
    session.commit()
    return invoice


def _counter_line(session: Session, profiles: ProfileSet, job_id: int, rate_bp: int) -> InvoiceLine:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.state != JobState.succeeded:
        raise Conflict(f"job {job_id} is {job.state.value}: only a job made is invoiced")
    if session.get(QuoteJob, job_id) is not None:
        raise Conflict(f"job {job_id} was made from a quote: invoice the quote instead")
    if session.get(InvoiceJob, job_id) is not None:
        raise Conflict(f"job {job_id} is on an invoice already")
    result = price_line(
        PriceInput(
            analysis=Analysis.model_validate(job.analysis),
            copies=job.copies,
            hourly_rate=hourly_rate(session, profiles, job.kind, job.file_type),
            material=profiles.materials.get(job.material) if job.material else None,
        ),
        profiles.prices,
    )
    if not result.complete:
        raise Conflict(
            f"job {job_id} cannot be priced automatically: "
            + "; ".join(m.message for m in result.missing)
        )
    return InvoiceLine(
        invoice_id=0,
        position=0,
        kind=InvoiceLineKind.item,
        description=f"{job.title} ({job.file_name})",
        quantity_milli=job.copies * MILLI,
        unit_price_cents=to_cents(result.unit_price),
        vat_rate_bp=rate_bp,
        account_key=job.kind.value,
        job_ids=[job_id],
    )


def _discount_lines(lines: list[InvoiceLine], sale: CounterSale) -> list[InvoiceLine]:
    if not sale.discount_percent:
        return []
    from fabqueue.pricing import line_total_cents

    bases: dict[int, int] = {}
    for ln in lines:
        cents = line_total_cents(ln.unit_price_cents, Decimal(ln.quantity_milli) / MILLI)
        bases[ln.vat_rate_bp] = bases.get(ln.vat_rate_bp, 0) + cents
    return [
        InvoiceLine(
            invoice_id=0,
            position=0,
            kind=InvoiceLineKind.discount,
            description=f"{sale.discount_label} de {_pct(sale.discount_percent)} %",
            quantity_milli=MILLI,
            unit_price_cents=-int(
                (Decimal(base) * sale.discount_percent / 100).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP
                )
            ),
            vat_rate_bp=rate_bp,
        )
        for rate_bp, base in sorted(bases.items(), reverse=True)
    ]


# --- members' machine time ------------------------------------------------------------


def member_jobs(session: Session, member_id: int, rules: MemberPrices | None = None) -> list[Job]:
    """A member's own jobs made and not invoiced yet (not from a quote; with the price
    ``rules``, not inside a booking that bills that machine time)."""
    q = (
        select(Job)
        .where(Job.owner_id == member_id)
        .where(Job.state == JobState.succeeded)
        .where(col(Job.id).not_in(select(QuoteJob.job_id)))
        .where(col(Job.id).not_in(select(InvoiceJob.job_id)))
    )
    if rules is not None:
        q = q.where(not_(in_charged_booking(rules)))
    return list(session.exec(q.order_by(col(Job.id))))


def billed_minutes(job: Job, increment_min: int) -> int:
    """The job's machine time (its analysis, every copy), up to the next increment."""
    seconds = (Analysis.model_validate(job.analysis).duration_s or 0.0) * job.copies
    steps = math.ceil(seconds / (60 * increment_min))  # started increments
    return max(steps, 1) * increment_min


def draft_member_time(
    *, session: Session, user: User, member_id: int, profiles: ProfileSet, at: datetime
) -> Invoice:
    """A draft invoice of a member's machine time when ``prices.toml`` charges it
    (``[members] hourly_rate``): one line per job made and not invoiced, its machine
    time rounded up to the increment, at the members' hourly rate."""
    check_staff(user)
    rules = profiles.prices.members
    if rules.hourly_rate <= 0:
        raise Conflict("the café does not charge members' machine time (prices.toml [members])")
    member = session.get(User, member_id)
    if member is None or member.role.value != "member":
        raise NotFound(f"no member {member_id}")
    jobs = member_jobs(session, member_id, rules)
    if not jobs:
        raise Conflict(f"{member.name} has no job made and not invoiced yet")
    site = profiles.site
    rate_bp = int(site.line_vat_rate() * 100) if site else 0
    # Billed per started increment (« 3 × 15 min »): a whole quantity, and a unit price
    # in whole cents, where hours would need thirds.
    step = rules.time_increment_min
    unit_cents = int(
        (rules.hourly_rate * 100 * step / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )
    lines = []
    for job in jobs:
        minutes = billed_minutes(job, step)
        lines.append(
            InvoiceLine(
                invoice_id=0,
                position=0,
                kind=InvoiceLineKind.item,
                description=f"Temps machine — {job.title} ({job.machine or job.kind.value}), "
                f"{minutes} min",
                quantity_milli=minutes // step * MILLI,
                unit=f"{step} min",
                unit_price_cents=unit_cents,
                vat_rate_bp=rate_bp,
                account_key=job.kind.value,
                job_ids=[job.id or 0],
            )
        )
    invoice = new_draft(
        session,
        user,
        InvoiceKind.invoice,
        at,
        customer_name=member.name,
        business=False,
        title="Temps machine adhérent",
    )
    add_lines(session, invoice, lines)
    hold_jobs(session, invoice, [j.id for j in jobs if j.id is not None])
    record(
        session,
        invoice,
        actor=actor_of(user),
        at=at,
        action="drafted",
        member=member_id,
        jobs=[j.id for j in jobs],
    )
    session.commit()
    return invoice


# --- cancel -------------------------------------------------------------------------


def cancel_draft(*, session: Session, user: User, invoice_id: int, at: datetime) -> Invoice:
    """Abandon a draft: its jobs may be billed again. An issued invoice is never
    cancelled: a credit note corrects it."""
    check_staff(user)
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    move(
        session,
        invoice,
        InvoiceState.cancelled,
        expected=[InvoiceState.draft],
        actor=actor_of(user),
        at=at,
    )
    session.execute(delete(InvoiceJob).where(col(InvoiceJob.invoice_id) == invoice_id))
    session.commit()
    return invoice
