"""Credit notes (avoirs): correct an issued invoice, whole or by lines, and are issued
at once (a credit note is never a draft someone forgets).

A line is credited once: ``invoice_line.credited_line_id`` is unique, so two clerks
crediting the same line at the same moment cannot both succeed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from fabqueue.invoices.bookings import release as release_bookings
from fabqueue.invoices.drafts import (
    actor_of,
    check_staff,
    credited_line_ids,
    lines_of_invoice,
)
from fabqueue.invoices.facturx import Renderer
from fabqueue.invoices.issuing import (
    archive_pdf,
    default_renderer,
    issue_locked,
    lock,
)
from fabqueue.invoices.payments import settle
from fabqueue.invoices.states import ISSUED_STATES, record
from fabqueue.models import User
from fabqueue.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceState
from fabqueue.profiles import ProfileSet
from fabqueue.services.errors import Conflict, Invalid
from fabqueue.storage import FileStore


def _chosen(session: Session, invoice: Invoice, line_ids: list[int] | None) -> list[InvoiceLine]:
    assert invoice.id is not None
    lines = lines_of_invoice(session, invoice.id)
    done = credited_line_ids(session, invoice.id)
    if line_ids is None:
        chosen = [ln for ln in lines if ln.id not in done]
        if not chosen:
            raise Conflict(f"every line of {invoice.number} is credited already")
        return chosen
    by_id = {ln.id: ln for ln in lines}
    unknown = [i for i in line_ids if i not in by_id]
    if unknown:
        raise Invalid(f"line(s) {unknown} are not lines of {invoice.number}")
    twice = [i for i in line_ids if i in done]
    if twice:
        raise Conflict(f"line(s) {twice} of {invoice.number} are credited already", lines=twice)
    if not line_ids:
        raise Invalid("name the lines to credit, or credit the whole invoice")
    return [by_id[i] for i in dict.fromkeys(line_ids)]


def credit(
    *,
    session: Session,
    user: User,
    invoice_id: int,
    line_ids: list[int] | None,
    reason: str,
    profiles: ProfileSet,
    store: FileStore,
    at: datetime,
    render: Renderer | None = None,
) -> Invoice:
    """Issue a credit note for ``line_ids`` of the invoice (all lines not yet credited
    when ``None``); the invoice's balance goes down by its amount. Commits."""
    check_staff(user)
    site = profiles.site
    if site is None:
        raise Conflict("the café's identity is not set up: write profiles/site.toml first")
    if not reason.strip():
        raise Invalid("say why the invoice is credited (it is printed on the credit note)")
    invoice = lock(session, invoice_id)
    if invoice.kind == InvoiceKind.credit_note or invoice.state not in ISSUED_STATES:
        raise Conflict(
            f"{invoice.number or invoice.id} is not an issued invoice: only those are credited",
            state=invoice.state.value,
        )
    chosen = _chosen(session, invoice, line_ids)
    note = Invoice(
        kind=InvoiceKind.credit_note,
        state=InvoiceState.draft,
        series="",
        organisation_id=invoice.organisation_id,
        customer_name=invoice.customer_name,
        business=invoice.business,
        quote_id=invoice.quote_id,
        corrects_id=invoice.id,
        title=f"Avoir sur la facture {invoice.number}",
        notes=f"Motif : {reason.strip()}",
        service_date=invoice.service_date,
        created_by=actor_of(user),
        created_at=at,
        updated_at=at,
    )
    session.add(note)
    session.flush()
    assert note.id is not None
    for position, line in enumerate(chosen, start=1):
        session.add(
            InvoiceLine(
                invoice_id=note.id,
                position=position,
                kind=line.kind,
                description=line.description,
                quantity_milli=line.quantity_milli,
                unit=line.unit,
                unit_price_cents=line.unit_price_cents,
                vat_rate_bp=line.vat_rate_bp,
                account_key=line.account_key,
                credited_line_id=line.id,
            )
        )
    session.flush()
    record(session, note, actor=actor_of(user), at=at, action="drafted", corrects=invoice.number)
    note = issue_locked(session, note, actor=actor_of(user), site=site, at=at)
    freed: dict[str, Any] = {}
    if ids := release_bookings(session, note, [ln.id for ln in chosen if ln.id is not None]):
        freed["bookings_freed"] = ids
    record(
        session,
        invoice,
        actor=actor_of(user),
        at=at,
        action="credited",
        credit_note=note.number,
        lines=[ln.id for ln in chosen],
        total_ttc_cents=note.total_ttc_cents,
        **freed,
    )
    settle(session, invoice, actor=actor_of(user), at=at, action="credited")
    session.commit()
    assert note.id is not None
    archive_pdf(
        session=session,
        invoice_id=note.id,
        store=store,
        render=render or default_renderer(profiles),
        actor=actor_of(user),
        at=at,
    )
    return note
