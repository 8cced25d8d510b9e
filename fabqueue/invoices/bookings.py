"""Members' booked machine time, invoiced when ``prices.toml`` charges it.

A booking that ended is billed once, per started increment of its booked time, at its
machine's booked-hour rate (``[members] booking_hourly_rate``, or the machine's own in
``booking_machine_rates``); a booking the member missed per ``no_show``; a cancelled
booking never.

Machine time is billed once: a member's job that started inside their booking, on that
machine, is covered by the booking (the booking's invoice holds it, and the members'
machine-time invoice never offers it). Only when such a job was invoiced as machine time
before (say, before the café charged bookings) are its minutes inside the booking taken
off the booked time.

Never twice: :class:`~fabqueue.models.invoices.InvoiceBooking` links each line to its
booking; the issuing transaction sets its unique ``billed_booking_id``. A credit note
of the line clears it: in French practice an invoice is corrected by a credit note and
a new invoice (« facture rectificative »), so the booking may be invoiced again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, delete, exists, func, not_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fabqueue.invoices.booked_time import charges, machine_charged, price_booked_time
from fabqueue.invoices.drafts import (
    MILLI,
    actor_of,
    add_lines,
    check_staff,
    hold_jobs,
    new_draft,
)
from fabqueue.invoices.states import record
from fabqueue.models import Booking, Job, QuoteJob, Role, User
from fabqueue.models.invoices import (
    Invoice,
    InvoiceBooking,
    InvoiceJob,
    InvoiceKind,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceState,
)
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.prices import MemberPrices
from fabqueue.services import french
from fabqueue.services.errors import Conflict, Invalid, NotFound

# --- which bookings are billed ----------------------------------------------------------


def _on_live_invoice() -> ColumnElement[bool]:
    """SQL: the booking is on a draft or an issued invoice and not credited."""
    return exists(
        select(InvoiceBooking.line_id)
        .join(Invoice, col(Invoice.id) == col(InvoiceBooking.invoice_id))
        .where(col(InvoiceBooking.booking_id) == col(Booking.id))
        .where(col(InvoiceBooking.credited_by_id).is_(None))
        .where(Invoice.state != InvoiceState.cancelled)
    )


def _billable(rules: MemberPrices, now: datetime) -> list[ColumnElement[bool]]:
    honoured = col(Booking.no_show_at).is_(None)
    charged = machine_charged(rules, Booking.machine)
    if rules.no_show == "fee":
        who = or_(and_(honoured, charged), not_(honoured))
    elif rules.no_show == "as_booked":
        who = charged
    else:
        who = and_(honoured, charged)
    return [
        col(Booking.cancelled_at).is_(None),
        col(Booking.ends_at) <= now,
        who,
        not_(_on_live_invoice()),
    ]


def bookings_to_invoice(
    session: Session, member_id: int, rules: MemberPrices, now: datetime
) -> list[Booking]:
    """A member's bookings that ended, are billed by the rules, and are on no invoice."""
    if not charges(rules):
        return []
    return list(
        session.exec(
            select(Booking)
            .where(Booking.member_id == member_id, *_billable(rules, now))
            .order_by(col(Booking.starts_at), col(Booking.id))
        )
    )


def members_with_bookings(
    session: Session, rules: MemberPrices, now: datetime
) -> list[tuple[int, str, int]]:
    """Members with bookings to invoice: (id, name, how many)."""
    if not charges(rules):
        return []
    rows = session.exec(
        select(User.id, User.name, func.count(col(Booking.id)))
        .join(Booking, col(Booking.member_id) == col(User.id))
        .where(*_billable(rules, now))
        .group_by(col(User.id), col(User.name))
        .order_by(col(User.name))
    ).all()
    return [(uid, name, n) for uid, name, n in rows if uid is not None]


# --- drafting ------------------------------------------------------------------------------


def _covered_jobs(session: Session, booking: Booking) -> list[Job]:
    return list(
        session.exec(
            select(Job)
            .where(Job.owner_id == booking.member_id, Job.machine == booking.machine)
            .where(col(Job.started_at) >= booking.starts_at)
            .where(col(Job.started_at) < booking.ends_at)
            .where(col(Job.id).not_in(select(QuoteJob.job_id)))
            .order_by(col(Job.id))
        )
    )


def _minutes_inside(job: Job, booking: Booking) -> float:
    assert job.started_at is not None
    end = min(job.finished_at or booking.ends_at, booking.ends_at)
    return max((end - max(job.started_at, booking.starts_at)).total_seconds(), 0.0) / 60


@dataclass
class _Billed:
    line: InvoiceLine
    booking: Booking
    covered: list[int]
    deducted_min: int


def _line(
    session: Session, profiles: ProfileSet, booking: Booking, rate_bp: int
) -> tuple[_Billed, list[int]]:
    """The line of one booking, and the covered jobs to hold (not held by an invoice)."""
    rules = profiles.prices.members
    site = profiles.site
    tz = site.tz if site else ZoneInfo("UTC")
    profile = profiles.machines.get(booking.machine)
    name = profile.name if profile else booking.machine
    booked_min = round((booking.ends_at - booking.starts_at).total_seconds() / 60)
    when = (
        f"{french.day(booking.starts_at, tz)}, {french.hour(booking.starts_at, tz)}–"
        f"{french.hour(booking.ends_at, tz)}"
    )
    jobs = _covered_jobs(session, booking)
    held = set(
        session.exec(
            select(InvoiceJob.job_id).where(col(InvoiceJob.job_id).in_([j.id for j in jobs]))
        ).all()
    )
    free = [j.id for j in jobs if j.id is not None and j.id not in held]
    base = InvoiceLine(
        invoice_id=0,
        position=0,
        kind=InvoiceLineKind.item,
        description="",
        quantity_milli=MILLI,
        unit_price_cents=0,
        vat_rate_bp=rate_bp,
        account_key=profile.kind.value if profile else "service",
    )
    if booking.no_show_at is not None and rules.no_show == "fee":
        base.description = f"Réservation non honorée — {name}, {when} : forfait d'absence"
        base.unit_price_cents = int(rules.no_show_fee * 100)
        return _Billed(base, booking, [], 0), []
    # Minutes already invoiced as a job's machine time are not billed again.
    deducted = math.ceil(sum(_minutes_inside(j, booking) for j in jobs if j.id in held))
    price = price_booked_time(
        max(booked_min - deducted, 0),
        rules.booking_rate(booking.machine),
        rules.booking_increment_min,
    )
    label = "Réservation non honorée" if booking.no_show_at is not None else "Réservation"
    base.description = f"{label} — {name}, {when} : {price.billed_minutes} min facturées" + (
        f" (dont {deducted} min déjà facturées déduites)" if deducted else ""
    )
    base.quantity_milli = price.steps * MILLI
    base.unit = f"{rules.booking_increment_min} min"
    base.unit_price_cents = price.unit_cents
    return _Billed(base, booking, free, deducted), free


def _chosen(
    session: Session, member: User, rules: MemberPrices, at: datetime, ids: list[int] | None
) -> list[Booking]:
    assert member.id is not None
    billable = bookings_to_invoice(session, member.id, rules, at)
    if ids is None:
        if not billable:
            raise Conflict(f"{member.name} has no booking to invoice")
        return billable
    if not ids:
        raise Invalid("choose at least one booking to invoice")
    by_id = {b.id: b for b in billable}
    refused = [i for i in dict.fromkeys(ids) if i not in by_id]
    if refused:
        raise Conflict(
            f"booking(s) {refused} cannot be invoiced to {member.name}: not theirs, "
            "cancelled, not ended, free by the price rules, or on an invoice already",
            bookings=refused,
        )
    return [by_id[i] for i in dict.fromkeys(ids)]


def draft_member_bookings(
    *,
    session: Session,
    user: User,
    member_id: int,
    profiles: ProfileSet,
    at: datetime,
    booking_ids: list[int] | None = None,
) -> Invoice:
    """A draft invoice of a member's bookings to invoice (only ``booking_ids``, when
    given): one line per booking. Commits."""
    check_staff(user)
    rules = profiles.prices.members
    if not charges(rules):
        raise Conflict("the café does not charge members' bookings (prices.toml [members])")
    member = session.get(User, member_id)
    if member is None or member.role != Role.member:
        raise NotFound(f"no member {member_id}")
    chosen = _chosen(session, member, rules, at, booking_ids)
    site = profiles.site
    rate_bp = int(site.line_vat_rate() * 100) if site else 0
    billed: list[_Billed] = []
    hold: list[int] = []
    for booking in chosen:
        one, free = _line(session, profiles, booking, rate_bp)
        billed.append(one)
        hold.extend(free)
    tz = site.tz if site else None
    last_end = max(b.ends_at for b in chosen)
    invoice = new_draft(
        session,
        user,
        InvoiceKind.invoice,
        at,
        customer_name=member.name,
        business=False,
        title="Réservations de machines adhérent",
        service_date=last_end.astimezone(tz).date() if tz else last_end.date(),
    )
    add_lines(session, invoice, [b.line for b in billed])
    assert invoice.id is not None
    for b in billed:
        assert b.line.id is not None and b.booking.id is not None
        session.add(
            InvoiceBooking(
                line_id=b.line.id,
                invoice_id=invoice.id,
                booking_id=b.booking.id,
                covered_job_ids=b.covered,
            )
        )
    hold_jobs(session, invoice, hold)
    record(
        session,
        invoice,
        actor=actor_of(user),
        at=at,
        action="drafted",
        member=member_id,
        bookings=[b.booking.id for b in billed],
        covered_jobs=hold,
        deducted_min={str(b.booking.id): b.deducted_min for b in billed if b.deducted_min},
    )
    session.commit()
    return invoice


# --- issuing and crediting --------------------------------------------------------------


def claim(session: Session, invoice: Invoice) -> list[int]:
    """In the issuing transaction: mark the invoice's bookings billed. The unique
    ``billed_booking_id`` refuses a booking another issued invoice bills, even one
    issued by someone else at the same moment. Returns the bookings."""
    links = list(
        session.exec(select(InvoiceBooking).where(InvoiceBooking.invoice_id == invoice.id))
    )
    if not links:
        return []
    ids = [ln.booking_id for ln in links]
    taken = session.exec(
        select(InvoiceBooking.booking_id, Invoice.number)
        .join(Invoice, col(Invoice.id) == col(InvoiceBooking.invoice_id))
        .where(col(InvoiceBooking.billed_booking_id).in_(ids))
    ).all()
    if taken:
        raise _billed_already([(b, n) for b, n in taken])
    try:
        with session.begin_nested():
            session.execute(
                update(InvoiceBooking)
                .where(col(InvoiceBooking.invoice_id) == invoice.id)
                .values(billed_booking_id=InvoiceBooking.booking_id)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        # Another clerk's invoice billed one of them and committed while this one waited.
        raise _billed_already([(b, None) for b in ids]) from None
    return ids


def _billed_already(rows: list[tuple[int, str | None]]) -> Conflict:
    where = ", ".join(f"{b} ({n})" if n else str(b) for b, n in rows)
    return Conflict(
        f"booking(s) {where} are invoiced already: cancel this draft",
        bookings=[b for b, _n in rows],
    )


def release(session: Session, note: Invoice, line_ids: list[int]) -> list[int]:
    """A credit note credited ``line_ids``: their bookings may be invoiced again.
    Returns the bookings freed."""
    links = list(
        session.exec(select(InvoiceBooking).where(col(InvoiceBooking.line_id).in_(line_ids)))
    )
    for link in links:
        link.billed_booking_id = None
        link.credited_by_id = note.id
        session.add(link)
    if links:
        # The jobs the booking covered stay with it: a new invoice of the booking holds
        # them again.
        covered = [j for ln in links for j in ln.covered_job_ids]
        if covered:
            session.execute(delete(InvoiceJob).where(col(InvoiceJob.job_id).in_(covered)))
    session.flush()
    return [ln.booking_id for ln in links]
