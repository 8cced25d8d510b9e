"""Payments recorded against issued invoices, balances due, the overdue list.

fabqueue takes no payment: it records one made elsewhere (a cheque, a transfer, the
café's own till, by its ticket reference), so it is no cash register.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from fabqueue.invoices.drafts import actor_of, check_staff
from fabqueue.invoices.issuing import lock
from fabqueue.invoices.states import OPEN_STATES, move
from fabqueue.models import User
from fabqueue.models.invoices import Invoice, InvoiceKind, InvoiceState, Payment, PaymentMethod
from fabqueue.pricing import to_cents
from fabqueue.services.errors import Conflict, Invalid


@dataclass(frozen=True)
class PaymentIn:
    amount: Decimal
    method: PaymentMethod
    paid_on: date
    reference: str = ""


def paid_cents(session: Session, invoice_id: int) -> int:
    return int(
        session.exec(
            select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
                Payment.invoice_id == invoice_id
            )
        ).one()
    )


def credited_cents(session: Session, invoice_id: int) -> int:
    total: int | None = session.exec(
        select(func.coalesce(func.sum(Invoice.total_ttc_cents), 0))
        .where(Invoice.corrects_id == invoice_id)
        .where(Invoice.kind == InvoiceKind.credit_note)
        .where(col(Invoice.number).is_not(None))
    ).one()
    return int(total or 0)


def refunded_cents(session: Session, invoice_id: int) -> int:
    """What the café paid back on the credit notes of an invoice (refunds are payments
    of a negative amount recorded against a credit note)."""
    total: int | None = session.exec(
        select(func.coalesce(func.sum(Payment.amount_cents), 0))
        .join(Invoice, col(Invoice.id) == col(Payment.invoice_id))
        .where(Invoice.corrects_id == invoice_id)
        .where(Invoice.kind == InvoiceKind.credit_note)
    ).one()
    return -int(total or 0)


def balance_cents(session: Session, invoice: Invoice) -> int:
    """What the client still owes: TTC less payments and credit notes, plus what the
    café refunded (negative when the café still owes a refund)."""
    assert invoice.id is not None
    return (
        (invoice.total_ttc_cents or 0)
        - paid_cents(session, invoice.id)
        - credited_cents(session, invoice.id)
        + refunded_cents(session, invoice.id)
    )


def settle(session: Session, invoice: Invoice, *, actor: str, at: datetime, action: str) -> None:
    """Move an open invoice to paid or partially paid after a payment or a credit note."""
    state = InvoiceState(invoice.state)
    if state not in OPEN_STATES:
        return
    left = balance_cents(session, invoice)
    if left <= 0:
        move(
            session, invoice, InvoiceState.paid, expected=[state], actor=actor, at=at, action=action
        )
    elif state == InvoiceState.issued and left < (invoice.total_ttc_cents or 0):
        move(
            session,
            invoice,
            InvoiceState.partially_paid,
            expected=[state],
            actor=actor,
            at=at,
            action=action,
            balance_cents=left,
        )


def record_payment(
    *, session: Session, user: User, invoice_id: int, data: PaymentIn, at: datetime
) -> Payment:
    """Record a payment; refuse one above the balance due (a typo, not a tip)."""
    check_staff(user)
    cents = to_cents(data.amount)
    if cents <= 0:
        raise Invalid("a payment is a positive amount")
    invoice = lock(session, invoice_id)
    if invoice.kind == InvoiceKind.credit_note:
        raise Conflict("a credit note is not paid; record the payment on an invoice")
    if invoice.state not in OPEN_STATES:
        raise Conflict(
            f"invoice {invoice.number or invoice.id} is {invoice.state.value}: only an issued "
            "invoice with a balance due takes a payment",
            state=invoice.state.value,
        )
    left = balance_cents(session, invoice)
    if cents > left:
        raise Conflict(
            f"{data.amount} € is more than the {left / 100:.2f} € due on {invoice.number}",
            balance_cents=left,
        )
    assert invoice.id is not None
    payment = Payment(
        invoice_id=invoice.id,
        amount_cents=cents,
        method=data.method,
        paid_on=data.paid_on,
        reference=data.reference.strip(),
        recorded_by=actor_of(user),
        recorded_at=at,
    )
    session.add(payment)
    session.flush()
    settle(session, invoice, actor=actor_of(user), at=at, action="payment")
    from fabqueue.invoices.states import record

    record(
        session,
        invoice,
        actor=actor_of(user),
        at=at,
        action="payment_recorded",
        payment_id=payment.id,
        amount_cents=cents,
        method=data.method.value,
        reference=payment.reference,
    )
    session.commit()
    return payment


def overdue(session: Session, today: date) -> list[tuple[Invoice, int]]:
    """Open invoices past their due date, oldest due first, with their balance."""
    rows = session.exec(
        select(Invoice)
        .where(col(Invoice.state).in_(list(OPEN_STATES)))
        .where(col(Invoice.due_date) < today)
        .order_by(col(Invoice.due_date), col(Invoice.id))
    ).all()
    return [(inv, balance_cents(session, inv)) for inv in rows]


def refund_due_cents(session: Session, note: Invoice) -> int:
    """What the café still owes the client on the invoice a credit note corrects (0 when
    the credit note only lowered a balance that was not paid yet)."""
    if note.kind != InvoiceKind.credit_note or note.corrects_id is None or note.number is None:
        return 0
    invoice = session.get(Invoice, note.corrects_id)
    assert invoice is not None
    return max(0, -balance_cents(session, invoice))


def record_refund(
    *, session: Session, user: User, credit_note_id: int, data: PaymentIn, at: datetime
) -> Payment:
    """Record money paid back to the client against a credit note (stored as a payment
    of a negative amount, so the payments CSV and the FEC show it going out); refuse more
    than the café owes. The corrected invoice's balance goes back towards zero."""
    check_staff(user)
    cents = to_cents(data.amount)
    if cents <= 0:
        raise Invalid("a refund is a positive amount")
    note = lock(session, credit_note_id)
    if note.kind != InvoiceKind.credit_note or note.number is None:
        raise Conflict(
            f"{note.number or note.id} is not an issued credit note: a refund is recorded "
            "against the credit note that owes it",
            state=note.state.value,
        )
    assert note.id is not None and note.corrects_id is not None
    invoice = lock(session, note.corrects_id)
    owed = refund_due_cents(session, note)
    if cents > owed:
        raise Conflict(
            f"{data.amount} € is more than the {owed / 100:.2f} € the café owes on "
            f"{invoice.number}",
            refund_due_cents=owed,
        )
    payment = Payment(
        invoice_id=note.id,
        amount_cents=-cents,
        method=data.method,
        paid_on=data.paid_on,
        reference=data.reference.strip(),
        recorded_by=actor_of(user),
        recorded_at=at,
    )
    session.add(payment)
    session.flush()
    from fabqueue.invoices.states import record

    for target in (note, invoice):
        record(
            session,
            target,
            actor=actor_of(user),
            at=at,
            action="refund_recorded",
            payment_id=payment.id,
            amount_cents=-cents,
            method=data.method.value,
            reference=payment.reference,
            credit_note=note.number,
        )
    session.commit()
    return payment
