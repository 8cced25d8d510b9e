"""Invoice states: the moves allowed between them and the one function that makes them.

As :mod:`fabqueue.quotes.states`: a guarded ``UPDATE invoice SET state = … WHERE id = …
AND state = (what was read under the row's lock)`` plus an
:class:`~fabqueue.models.InvoiceEvent` with its actor, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from fabqueue.models.invoices import Invoice, InvoiceEvent, InvoiceState
from fabqueue.services.errors import Conflict

ALLOWED_MOVES: Mapping[InvoiceState, frozenset[InvoiceState]] = {
    InvoiceState.draft: frozenset({InvoiceState.issued, InvoiceState.cancelled}),
    # issued -> paid at once: paid in full, or a credit note cancels the whole balance.
    InvoiceState.issued: frozenset({InvoiceState.partially_paid, InvoiceState.paid}),
    InvoiceState.partially_paid: frozenset({InvoiceState.paid}),
    InvoiceState.paid: frozenset(),
    InvoiceState.cancelled: frozenset(),
}

ISSUED_STATES = frozenset({InvoiceState.issued, InvoiceState.partially_paid, InvoiceState.paid})
"""Numbered: in the books, never edited or deleted again."""

OPEN_STATES = frozenset({InvoiceState.issued, InvoiceState.partially_paid})
"""Issued with something left to pay."""


class InvoiceMoveRefused(Conflict):
    """The invoice is not in a state that allows the move (someone moved it first)."""

    def __init__(self, invoice: Invoice, to: InvoiceState, current: InvoiceState | None) -> None:
        name = invoice.number or invoice.id
        where = f"it is {current.value}" if current else "it does not exist"
        super().__init__(
            f"invoice {name} cannot become {to.value}: {where}",
            state=current.value if current else None,
        )


def move(
    session: Session,
    invoice: Invoice,
    to: InvoiceState,
    *,
    expected: Iterable[InvoiceState],
    actor: str,
    at: datetime,
    action: str | None = None,
    values: Mapping[str, Any] | None = None,
    **detail: Any,
) -> InvoiceState:
    """Move ``invoice`` to ``to`` if it is in one of ``expected``; return its old state.

    ``values`` are other columns the same UPDATE sets (number, totals, footprint…), so
    they are written only if the move happens. The caller commits.
    """
    expected = frozenset(expected)
    bad = sorted(s.value for s in expected if to not in ALLOWED_MOVES[s])
    if not expected or bad:
        raise ValueError(f"an invoice never goes to {to.value} from {bad or 'nowhere'}")
    assert invoice.id is not None
    session.flush()
    current = session.exec(
        select(Invoice.state).where(col(Invoice.id) == invoice.id).with_for_update()
    ).first()
    before = InvoiceState(current) if current is not None else None
    moved = False
    if before in expected:
        result = session.execute(
            update(Invoice)
            .where(col(Invoice.id) == invoice.id)
            .where(col(Invoice.state) == before)
            .values(state=to, updated_at=at, **(values or {}))
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        moved = result.rowcount == 1
    session.refresh(invoice)
    if not moved or before is None:
        raise InvoiceMoveRefused(invoice, to, InvoiceState(invoice.state))
    record(session, invoice, actor=actor, at=at, action=action or to.value, before=before, **detail)
    return before


def record(
    session: Session,
    invoice: Invoice,
    *,
    actor: str,
    at: datetime,
    action: str,
    before: InvoiceState | None = None,
    **detail: Any,
) -> None:
    """An event without a change of state (a draft created, a PDF archived…)."""
    assert invoice.id is not None
    session.add(
        InvoiceEvent(
            invoice_id=invoice.id,
            at=at,
            actor=actor,
            action=action,
            from_state=before,
            to_state=InvoiceState(invoice.state),
            detail=detail,
        )
    )
    session.flush()
