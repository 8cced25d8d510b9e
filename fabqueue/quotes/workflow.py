"""Quotes before they are sent: requests, designs, lines, drafts, versions.

Sending, answers and conversion are in ``sending`` and ``convert``. Every change takes
the quote's row lock first (``SELECT … FOR UPDATE``; on SQLite the write transaction
already holds the database's lock) and re-checks the state under it, so an edit racing a
send can never touch a quote that has just been frozen. State changes go through
:func:`fabqueue.quotes.states.move` only.

The services own the unit of work: each public function here commits the session it is
given when it succeeds (the API's routers never commit); on error the caller's session
is rolled back when it closes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, func, select

from fabqueue.models import (
    Job,
    Organisation,
    Quote,
    QuoteEvent,
    QuoteJob,
    QuoteLine,
    QuoteState,
    Role,
    User,
)
from fabqueue.models.quote_public import QuoteIn, QuotePatch
from fabqueue.models.quotes import EDITABLE_STATES, REVISABLE_STATES, LineKind, PriceSource
from fabqueue.profiles import ProfileSet
from fabqueue.quotes import pricing as quote_pricing
from fabqueue.quotes.states import AGREED_STATES, move
from fabqueue.services.clients import get_organisation, organisation_of, require_organisation
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound

MILLI = Decimal(1000)
IN_PROGRESS = EDITABLE_STATES | {QuoteState.sent}
"""A version in one of these has not been answered yet."""
KIND_LABELS = {
    "fdm_printer": "Impression 3D",
    "vinyl_cutter": "Découpe vinyle",
    "embroidery": "Broderie",
}


def actor_of(user: User) -> str:
    return f"user:{user.id}"


def record_event(
    session: Session,
    quote: Quote,
    *,
    actor: str,
    action: str,
    at: datetime,
    from_state: QuoteState | None = None,
    to_state: QuoteState | None = None,
    **detail: Any,
) -> None:
    assert quote.id is not None
    session.add(
        QuoteEvent(
            quote_id=quote.id,
            at=at,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            detail=detail,
        )
    )


def record_change(
    session: Session, quote: Quote, *, actor: str, action: str, at: datetime, **detail: Any
) -> None:
    """A change to a quote (or its lines): its time stamp and its event, together."""
    quote.updated_at = at
    session.add(quote)
    record_event(session, quote, actor=actor, action=action, at=at, **detail)


def lock(session: Session, quote_id: int) -> Quote:
    """The quote, locked for this transaction, as it is now in the database."""
    quote = session.exec(
        select(Quote)
        .where(Quote.id == quote_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if quote is None:
        raise NotFound(f"no quote {quote_id}")
    return quote


def _family_ids(session: Session, quote: Quote) -> set[int]:
    """The ids of every version of ``quote`` (the first one, and every revision of it)."""
    root = quote
    while root.previous_id is not None:
        parent = session.get(Quote, root.previous_id)
        assert parent is not None
        root = parent
    assert root.id is not None
    ids, frontier = {root.id}, [root.id]
    while frontier:
        children = session.exec(select(Quote.id).where(col(Quote.previous_id).in_(frontier))).all()
        frontier = [c for c in children if c is not None and c not in ids]
        ids.update(frontier)
    return ids


def lock_versions(session: Session, quote_id: int) -> tuple[Quote, list[Quote]]:
    """The quote and all its other versions, locked for this transaction.

    Rows are locked in id order, whoever asks, so that two requests working on two
    versions of the same quote (accept one, send another) wait for each other instead
    of deadlocking; a version made meanwhile is picked up by the second round.
    """
    first = session.get(Quote, quote_id)
    if first is None:
        raise NotFound(f"no quote {quote_id}")
    locked: dict[int, Quote] = {}
    ids = _family_ids(session, first)
    while not ids <= locked.keys():
        before = len(locked)
        for row in session.exec(
            select(Quote)
            .where(col(Quote.id).in_(sorted(ids - locked.keys())))
            .order_by(col(Quote.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            assert row.id is not None
            locked[row.id] = row
        if len(locked) == before or quote_id not in locked:
            raise NotFound(f"no quote {quote_id}")  # a version vanished: not in this schema
        ids = _family_ids(session, locked[quote_id])
    others = [q for i, q in sorted(locked.items()) if i != quote_id]
    return locked[quote_id], others


def agreed_version(others: list[Quote]) -> Quote | None:
    """The other version the client already agreed to, if any."""
    return next((q for q in others if QuoteState(q.state) in AGREED_STATES), None)


def check_access(session: Session, quote: Quote, user: User) -> None:
    if user.is_staff:
        return
    if user.role != Role.client:
        raise Forbidden("quotes are for client organisations; ask the café's staff")
    own = organisation_of(session, user)
    if own is None or own.id != quote.organisation_id:
        # The answer for a quote that does not exist: ids are not to be probed.
        raise NotFound(f"no quote {quote.id}")


def get_quote(session: Session, quote_id: int, user: User) -> Quote:
    quote = session.get(Quote, quote_id)
    if quote is None:
        raise NotFound(f"no quote {quote_id}")
    check_access(session, quote, user)
    return quote


def locked_for(session: Session, quote_id: int, user: User) -> Quote:
    quote = lock(session, quote_id)
    check_access(session, quote, user)
    return quote


def editable(quote: Quote, user: User, action: str) -> None:
    """Clients may only add to, or cancel, their own request before staff take it."""
    if QuoteState(quote.state) not in EDITABLE_STATES:
        raise Conflict(
            f"cannot {action} quote {quote.number or quote.id}: it is {quote.state.value}"
            + ("; make a new version instead" if quote.state in REVISABLE_STATES else ""),
            state=quote.state.value,
        )
    if not user.is_staff and quote.state != QuoteState.requested:
        raise Conflict(
            f"the café is already working on this quote; cannot {action} it",
            state=quote.state.value,
        )


def list_quotes(
    session: Session,
    user: User,
    *,
    states: list[QuoteState] | None = None,
    organisation_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Quote], int]:
    query = select(Quote)
    if not user.is_staff:
        if user.role != Role.client:
            raise Forbidden("quotes are for client organisations; ask the café's staff")
        query = query.where(Quote.organisation_id == require_organisation(session, user).id)
    elif organisation_id is not None:
        query = query.where(Quote.organisation_id == organisation_id)
    if states:
        query = query.where(col(Quote.state).in_([s.value for s in states]))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Quote.id).desc()).offset(offset).limit(limit))
    return list(rows), int(total)


def create_quote(
    *, session: Session, user: User, data: QuoteIn, profiles: ProfileSet, at: datetime
) -> Quote:
    """A client's request (state requested), or a draft staff start for a client."""
    if user.is_staff:
        if data.organisation_id is None:
            raise Invalid("say which client organisation the quote is for (organisation_id)")
        org = get_organisation(session, data.organisation_id, user)
        if not org.active:
            raise Conflict(f"{org.name} is archived")
        state = QuoteState.draft
    elif user.role == Role.client:
        org = require_organisation(session, user)
        if data.organisation_id not in (None, org.id):
            raise Forbidden("a client asks for quotes for its own organisation only")
        state = QuoteState.requested
    else:
        raise Forbidden("quotes are for client organisations; ask the café's staff")
    assert org.id is not None and user.id is not None
    site = profiles.site
    quote = Quote(
        organisation_id=org.id,
        state=state,
        title=data.title.strip(),
        request_notes=data.request_notes,
        lead_time=site.quote_lead_time if site else "",
        payment_terms=site.payment_terms if site else "",
        validity_days=site.quote_validity_days if site else 30,
        requested_by_id=None if user.is_staff else user.id,
        created_by_id=user.id,
        created_at=at,
        updated_at=at,
    )
    session.add(quote)
    session.flush()
    record_event(session, quote, actor=actor_of(user), action="created", at=at, to_state=state)
    session.commit()
    return quote


def update_quote(
    *, session: Session, user: User, quote_id: int, data: QuotePatch, at: datetime
) -> Quote:
    quote = locked_for(session, quote_id, user)
    if not user.is_staff:
        raise Forbidden("only staff edit a quote")
    editable(quote, user, "edit")
    changes = data.model_dump(exclude_none=True)
    for name, value in changes.items():
        setattr(quote, name, value)
    record_change(session, quote, actor=actor_of(user), action="edited", at=at, **changes)
    session.commit()
    return quote


# --- lines ---------------------------------------------------------------------------


def lines_of(session: Session, quote_id: int) -> list[QuoteLine]:
    return list(
        session.exec(
            select(QuoteLine)
            .where(QuoteLine.quote_id == quote_id)
            .order_by(col(QuoteLine.position))
        )
    )


def quote_org(session: Session, quote: Quote) -> Organisation:
    org = session.get(Organisation, quote.organisation_id)
    assert org is not None
    return org


def reprice_all(session: Session, quote: Quote, profiles: ProfileSet) -> None:
    org = quote_org(session, quote)
    assert quote.id is not None
    for line in lines_of(session, quote.id):
        if line.kind == LineKind.design and line.price_source == PriceSource.auto:
            quote_pricing.price_design(session=session, profiles=profiles, line=line, org=org)
            session.add(line)
    sync_discount(session, quote)


def sync_discount(session: Session, quote: Quote) -> None:
    """Remake the discount line(s) of a draft after its lines changed."""
    if quote.state == QuoteState.draft:
        assert quote.id is not None
        session.flush()
        quote_pricing.sync_discount(session, quote.id)


def start_draft(
    *, session: Session, user: User, quote_id: int, profiles: ProfileSet, at: datetime
) -> Quote:
    """Staff take a request: every design is priced from its analysis."""
    quote = locked_for(session, quote_id, user)
    if not user.is_staff:
        raise Forbidden("staff turn requests into quotes")
    move(
        session,
        quote,
        QuoteState.draft,
        expected=[QuoteState.requested],
        actor=actor_of(user),
        action="drafted",
        at=at,
    )
    reprice_all(session, quote, profiles)
    session.commit()
    return quote


def reprice(
    *, session: Session, user: User, quote_id: int, profiles: ProfileSet, at: datetime
) -> Quote:
    """Price the automatic lines again (after a change of prices.toml or of the client)."""
    quote = locked_for(session, quote_id, user)
    if not user.is_staff:
        raise Forbidden("only staff price quotes")
    if quote.state != QuoteState.draft:
        raise Conflict(
            f"only a draft is priced; quote {quote.id} is {quote.state.value}",
            state=quote.state.value,
        )
    reprice_all(session, quote, profiles)
    record_change(session, quote, actor=actor_of(user), action="repriced", at=at)
    session.commit()
    return quote


def cancel(*, session: Session, user: User, quote_id: int, reason: str, at: datetime) -> Quote:
    """Abandon a request or a draft. A quote that was sent is never removed."""
    quote = locked_for(session, quote_id, user)
    editable(quote, user, "cancel")
    move(
        session,
        quote,
        QuoteState.cancelled,
        expected=EDITABLE_STATES,
        actor=actor_of(user),
        at=at,
        reason=reason,
    )
    session.commit()
    return quote


def revise(*, session: Session, user: User, quote_id: int, at: datetime) -> Quote:
    """A change to a sent quote: a new draft version with the same lines. The sent one
    stays as it is until the new version is sent, and then it is superseded."""
    if not user.is_staff:
        raise Forbidden("only staff make a new version of a quote")
    quote, others = lock_versions(session, quote_id)
    agreed = agreed_version(others)
    if agreed is not None:
        raise Conflict(
            f"version {agreed.number} of this quote was accepted; no new version is made",
            state=agreed.state.value,
        )
    if quote.state not in REVISABLE_STATES:
        raise Conflict(
            f"quote {quote.number or quote.id} is {quote.state.value}; only a sent, "
            "refused or expired quote gets a new version",
            state=quote.state.value,
        )
    open_version = next(
        (q for q in others if q.previous_id == quote.id and q.state in IN_PROGRESS), None
    )
    if open_version is not None:
        raise Conflict(
            f"quote {quote.number} already has a version in progress: quote {open_version.id}",
            quote_id=open_version.id,
        )
    assert quote.id is not None and user.id is not None
    new = Quote(
        organisation_id=quote.organisation_id,
        state=QuoteState.draft,
        version=quote.version + 1,
        previous_id=quote.id,
        title=quote.title,
        request_notes=quote.request_notes,
        notes=quote.notes,
        lead_time=quote.lead_time,
        payment_terms=quote.payment_terms,
        validity_days=quote.validity_days,
        requested_by_id=quote.requested_by_id,
        created_by_id=user.id,
        created_at=at,
        updated_at=at,
    )
    session.add(new)
    session.flush()
    assert new.id is not None
    for line in lines_of(session, quote.id):
        copy = QuoteLine.model_validate(
            line.model_dump(exclude={"id", "quote_id"}) | {"quote_id": new.id}
        )
        session.add(copy)
    record_event(
        session,
        new,
        actor=actor_of(user),
        action="created",
        at=at,
        to_state=QuoteState.draft,
        replaces=quote.number,
    )
    record_event(session, quote, actor=actor_of(user), action="revised", at=at, new_quote_id=new.id)
    session.commit()
    return new


def job_ids(session: Session, quote_id: int) -> list[int]:
    return list(
        session.exec(
            select(QuoteJob.job_id)
            .where(QuoteJob.quote_id == quote_id)
            .order_by(col(QuoteJob.job_id))
        )
    )


def jobs_of(session: Session, quote_id: int, user: User) -> list[Job]:
    """The jobs the quote became, for whoever may see the quote."""
    get_quote(session, quote_id, user)
    return list(
        session.exec(
            select(Job)
            .join(QuoteJob, col(QuoteJob.job_id) == col(Job.id))
            .where(QuoteJob.quote_id == quote_id)
            .order_by(col(Job.id))
        )
    )


def events(session: Session, quote_id: int, user: User) -> list[QuoteEvent]:
    get_quote(session, quote_id, user)
    return list(
        session.exec(
            select(QuoteEvent).where(QuoteEvent.quote_id == quote_id).order_by(col(QuoteEvent.id))
        )
    )
