"""Quote states: the moves allowed between them and the one function that makes them.

Like :func:`fabqueue.states.transition` for jobs: a guarded
``UPDATE quote SET state = … WHERE id = … AND state IN (expected)`` plus a
:class:`~fabqueue.models.QuoteEvent` row with its actor, in the caller's transaction.
Two requests racing for the same quote (a double-clicked convert, a client accepting
while staff send a revision) cannot both win: the loser gets :class:`QuoteMoveRefused`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from fabqueue.models.quotes import Quote, QuoteEvent, QuoteState
from fabqueue.services.errors import Conflict

ALLOWED_MOVES: Mapping[QuoteState, frozenset[QuoteState]] = {
    QuoteState.requested: frozenset({QuoteState.draft, QuoteState.cancelled}),
    QuoteState.draft: frozenset({QuoteState.sent, QuoteState.cancelled}),
    # sent -> superseded: a newer version was sent, or another version was accepted.
    QuoteState.sent: frozenset(
        {QuoteState.accepted, QuoteState.refused, QuoteState.expired, QuoteState.superseded}
    ),
    # expired -> accepted: staff record a paper copy signed before the end of validity
    # that reached the café after it.
    QuoteState.expired: frozenset({QuoteState.accepted}),
    QuoteState.accepted: frozenset({QuoteState.converted}),
    QuoteState.refused: frozenset(),
    QuoteState.converted: frozenset(),
    QuoteState.superseded: frozenset(),
    QuoteState.cancelled: frozenset(),
}

OPEN_STATES = frozenset(
    {QuoteState.requested, QuoteState.draft, QuoteState.sent, QuoteState.expired}
)
"""A version in one of these may still be answered, sent or edited."""

AGREED_STATES = frozenset({QuoteState.accepted, QuoteState.converted})
"""The client agreed to this version: no other version of the quote can be."""


class QuoteMoveRefused(Conflict):
    """The quote is not in a state that allows the move (someone else moved it first)."""

    def __init__(self, quote: Quote, to: QuoteState, current: QuoteState | None) -> None:
        self.to = to
        self.current = current
        name = quote.number or quote.id
        where = f"it is {current.value}" if current else "it does not exist"
        super().__init__(
            f"quote {name} cannot become {to.value}: {where}",
            state=current.value if current else None,
        )


def move(
    session: Session,
    quote: Quote,
    to: QuoteState,
    *,
    expected: Iterable[QuoteState],
    actor: str,
    at: datetime,
    reason: str | None = None,
    action: str | None = None,
    values: Mapping[str, Any] | None = None,
    **detail: Any,
) -> QuoteState:
    """Move ``quote`` to ``to`` if it is in one of ``expected``; return its old state.

    ``values`` are other columns set by the same UPDATE (accepted_at, converted_at…), so
    they are written only if the move happens. Pending changes to ``quote`` are flushed
    first and the object is refreshed after. Raises :class:`QuoteMoveRefused` when the
    guard fails, ``ValueError`` when ``expected`` names a state from which ``to`` is never
    allowed (a programming error). The caller commits.
    """
    expected = frozenset(expected)
    bad = sorted(s.value for s in expected if to not in ALLOWED_MOVES[s])
    if not expected or bad:
        raise ValueError(f"a quote never goes to {to.value} from {bad or 'nowhere'}")
    assert quote.id is not None
    session.flush()
    # Read the state under the row's lock (PostgreSQL; SQLite's write transaction already
    # excludes other writers), then repeat it in the UPDATE's guard.
    current = session.exec(
        select(Quote.state).where(col(Quote.id) == quote.id).with_for_update()
    ).first()
    before = QuoteState(current) if current is not None else None
    moved = False
    if before in expected:
        updates: dict[str, Any] = {"state": to, "updated_at": at, **(values or {})}
        result = session.execute(
            update(Quote)
            .where(col(Quote.id) == quote.id)
            .where(col(Quote.state) == before)
            .values(**updates)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        moved = result.rowcount == 1
    session.refresh(quote)
    if not moved or before is None:
        raise QuoteMoveRefused(quote, to, QuoteState(quote.state))
    if reason is not None:
        detail["reason"] = reason
    session.add(
        QuoteEvent(
            quote_id=quote.id,
            at=at,
            actor=actor,
            action=action or to.value,
            from_state=before,
            to_state=to,
            detail=detail,
        )
    )
    session.flush()
    return before
