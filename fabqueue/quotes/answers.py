"""The answer to a sent quote: « bon pour accord » (online, or a signed paper copy that
staff record), a refusal, or the end of its validity.

Accepting a version closes every other version of the quote (a sent one is superseded,
a draft cancelled), so a quote and its revision can never both be accepted. Each answer
locks all versions of the quote, in id order, before it looks at their states.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from fabqueue.models import Quote, QuoteState, User
from fabqueue.models.quote_public import Acceptance, PaperAcceptance, Refusal
from fabqueue.models.quotes import AcceptanceVia
from fabqueue.profiles import ProfileSet, SiteProfile
from fabqueue.quotes.sending import (
    LINK_ACTOR,
    SYSTEM,
    close_others,
    hash_token,
    is_expired,
    local_date,
    quote_for_token,
    tz_of,
)
from fabqueue.quotes.states import move
from fabqueue.quotes.workflow import (
    actor_of,
    agreed_version,
    check_access,
    get_quote,
    lock,
    lock_versions,
)
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound


def _answerable(
    quote: Quote, others: list[Quote], at: datetime, site: SiteProfile | None, action: str
) -> None:
    """Refuse, with the reason, an answer to a quote that cannot take one now."""
    state = QuoteState(quote.state)
    if state == QuoteState.accepted or state == QuoteState.converted:
        raise Conflict(
            f"quote {quote.number} was already accepted on "
            f"{quote.accepted_at:%d/%m/%Y} by {quote.accepted_by_name}",
            state=state.value,
        )
    agreed = agreed_version(others)
    if agreed is not None:
        raise Conflict(
            f"version {agreed.number} of this quote was already accepted", state=state.value
        )
    if state == QuoteState.superseded:
        raise Conflict(
            f"quote {quote.number} was replaced by a newer version; answer that one",
            state=state.value,
        )
    if is_expired(quote, at, site):
        raise Conflict(
            f"quote {quote.number} expired on {quote.valid_until:%d/%m/%Y}; "
            "ask the café for a new one",
            state=QuoteState.expired.value,
        )
    if state != QuoteState.sent:
        raise Conflict(
            f"quote {quote.number or quote.id} is {state.value}; cannot {action} it",
            state=state.value,
        )


def _signer(data: Acceptance | PaperAcceptance) -> str:
    if not data.agree:
        raise Invalid("tick « bon pour accord » to accept the quote")
    signer = data.signer_name.strip()
    if not signer:
        raise Invalid("the signer's name is needed")
    return signer


def _accept(
    session: Session,
    quote: Quote,
    others: list[Quote],
    *,
    signer: str,
    via: AcceptanceVia,
    actor: str,
    user: User | None,
    at: datetime,
    site: SiteProfile | None,
    signed_on: date | None = None,
    **detail: Any,
) -> Quote:
    """Accept ``quote`` (locked, with its other versions) and close every other version.
    Only a paper copy with its signature date may accept a quote past its validity."""
    if signed_on is not None:
        detail["signed_on"] = signed_on.isoformat()
    move(
        session,
        quote,
        QuoteState.accepted,
        expected=[QuoteState.sent] if signed_on is None else [QuoteState.sent, QuoteState.expired],
        actor=actor,
        at=at,
        values={
            "accepted_at": at,
            "accepted_by_name": signer,
            "accepted_by_user_id": user.id if user else None,
            "acceptance_via": via,
            "signed_on": signed_on,
        },
        signer=signer,
        via=via.value,
        **detail,
    )
    close_others(session, others, actor=actor, at=at, by=quote, only_sent=False, site=site)
    session.commit()
    return quote


def accept_link(
    *,
    session: Session,
    token: str,
    data: Acceptance,
    profiles: ProfileSet,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> Quote:
    """ "Bon pour accord" through the quote's secret link. ``detail`` (the signer's
    address and browser, from the devis page) is kept in the event with the signature."""
    signer = _signer(data)
    found = quote_for_token(session, token)
    assert found.id is not None
    quote, others = lock_versions(session, found.id)
    if quote.accept_token_hash != hash_token(token):
        raise NotFound("this quote link is not valid (it was replaced by a newer one)")
    _answerable(quote, others, at, profiles.site, "accept")
    return _accept(
        session,
        quote,
        others,
        signer=signer,
        via=AcceptanceVia.link,
        actor=LINK_ACTOR,
        user=None,
        at=at,
        site=profiles.site,
        **(detail or {}),
    )


def accept_as(
    *,
    session: Session,
    user: User,
    quote_id: int,
    data: Acceptance,
    profiles: ProfileSet,
    at: datetime,
) -> Quote:
    """ "Bon pour accord" by the client logged in, or by staff for a paper copy received
    while the quote is valid."""
    signer = _signer(data)
    quote, others = lock_versions(session, quote_id)
    check_access(session, quote, user)
    _answerable(quote, others, at, profiles.site, "accept")
    via = AcceptanceVia.staff if user.is_staff else AcceptanceVia.account
    return _accept(
        session,
        quote,
        others,
        signer=signer,
        via=via,
        actor=actor_of(user),
        user=user,
        at=at,
        site=profiles.site,
    )


def record_paper_acceptance(
    *,
    session: Session,
    user: User,
    quote_id: int,
    data: PaperAcceptance,
    profiles: ProfileSet,
    at: datetime,
) -> Quote:
    """Staff record a paper copy signed « bon pour accord » on ``data.signed_on``.

    It counts when it was signed while the quote was valid, even if it reached the café
    after the quote expired; the signature date and who entered it are kept.
    """
    if not user.is_staff:
        raise Forbidden("only staff record a signed paper copy")
    signer = _signer(data)
    quote, others = lock_versions(session, quote_id)
    state = QuoteState(quote.state)
    if state in (QuoteState.sent, QuoteState.expired) and is_expired(quote, at, profiles.site):
        state = QuoteState.expired
    if state not in (QuoteState.sent, QuoteState.expired):
        _answerable(quote, others, at, profiles.site, "accept")
    agreed = agreed_version(others)
    if agreed is not None:
        raise Conflict(f"version {agreed.number} of this quote was already accepted")
    _check_signature_date(quote, data.signed_on, at, profiles.site)
    return _accept(
        session,
        quote,
        others,
        signer=signer,
        via=AcceptanceVia.staff,
        actor=actor_of(user),
        user=user,
        at=at,
        site=profiles.site,
        signed_on=data.signed_on,
        late=state == QuoteState.expired,
    )


def _check_signature_date(
    quote: Quote, signed_on: date, at: datetime, site: SiteProfile | None
) -> None:
    assert quote.sent_at is not None and quote.valid_until is not None
    tz = site.tz if site else tz_of(quote)
    if signed_on > local_date(at, tz):
        raise Invalid("the signature date is in the future")
    if signed_on < local_date(quote.sent_at, tz):
        raise Invalid(f"the signature date is before the quote was sent ({quote.sent_at:%d/%m/%Y})")
    if signed_on > quote.valid_until:
        raise Conflict(
            f"signed on {signed_on:%d/%m/%Y}, after the quote's validity "
            f"(until {quote.valid_until:%d/%m/%Y}): make a new version",
            state=QuoteState.expired.value,
        )


def _refuse(
    *,
    session: Session,
    quote_id: int,
    data: Refusal,
    actor: str,
    profiles: ProfileSet,
    at: datetime,
    token: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Quote:
    quote, others = lock_versions(session, quote_id)
    if token is not None and quote.accept_token_hash != hash_token(token):
        raise NotFound("this quote link is not valid (it was replaced by a newer one)")
    _answerable(quote, others, at, profiles.site, "refuse")
    move(
        session,
        quote,
        QuoteState.refused,
        expected=[QuoteState.sent],
        actor=actor,
        at=at,
        values={"refused_at": at, "refusal_reason": data.reason or None},
        reason=data.reason,
        **(detail or {}),
    )
    session.commit()
    return quote


def refuse_link(
    *,
    session: Session,
    token: str,
    data: Refusal,
    profiles: ProfileSet,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> Quote:
    quote = quote_for_token(session, token)
    assert quote.id is not None
    return _refuse(
        session=session,
        quote_id=quote.id,
        data=data,
        actor=LINK_ACTOR,
        profiles=profiles,
        at=at,
        token=token,
        detail=detail,
    )


def refuse_as(
    *,
    session: Session,
    user: User,
    quote_id: int,
    data: Refusal,
    profiles: ProfileSet,
    at: datetime,
) -> Quote:
    get_quote(session, quote_id, user)
    return _refuse(
        session=session,
        quote_id=quote_id,
        data=data,
        actor=actor_of(user),
        profiles=profiles,
        at=at,
    )


def expire_due(*, session: Session, profiles: ProfileSet, at: datetime) -> list[Quote]:
    """Mark expired every sent quote whose validity has passed (run by
    ``fabqueue quotes expire``; readers already see such quotes as expired)."""
    expired = []
    for quote in session.exec(
        select(Quote)
        .where(Quote.state == QuoteState.sent)
        .where(col(Quote.valid_until).is_not(None))
        .order_by(col(Quote.id))  # the order every writer locks quotes in
    ).all():
        if is_expired(quote, at, profiles.site):
            locked = lock(session, quote.id or 0)
            if locked.state == QuoteState.sent:
                move(
                    session,
                    locked,
                    QuoteState.expired,
                    expected=[QuoteState.sent],
                    actor=SYSTEM,
                    at=at,
                    valid_until=str(locked.valid_until),
                )
                expired.append(locked)
    session.commit()
    return expired
