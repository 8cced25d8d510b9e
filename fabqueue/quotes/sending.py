"""Sending a quote (number, freeze, link) and the client's answer.

The number comes from ``quote_sequence`` in the same transaction that marks the quote
sent: if anything fails before the commit, the number is not used, so the sequence has
no gap. The sequence row is read ``FOR UPDATE``: on PostgreSQL a second sender waits
there until the first commits, then reads the new value; on SQLite the write
transaction (``BEGIN IMMEDIATE``) already serialises senders.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from fabqueue.models import Organisation, Quote, QuoteSequence, QuoteState, User
from fabqueue.models.quote_public import Acceptance, Refusal
from fabqueue.models.quotes import AcceptanceVia
from fabqueue.pricing import LineAmount, Totals, totals
from fabqueue.profiles import ProfileSet, SiteProfile
from fabqueue.profiles.site import VatRegime
from fabqueue.quotes.workflow import actor_of, lines_of, lock, locked_for, move, record_event
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound

LINK_ACTOR = "link"
SYSTEM = "system"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def local_date(at: datetime, site_tz: Any) -> date:
    return at.astimezone(site_tz).date()


def allocate_number(session: Session, year: int) -> int:
    """The next number of ``year``, under the sequence row's lock."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(QuoteSequence)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    row = session.exec(
        select(QuoteSequence)
        .where(QuoteSequence.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    row.last += 1
    session.add(row)
    session.flush()
    return row.last


def quote_totals(session: Session, quote: Quote, site: SiteProfile | None) -> Totals:
    assert quote.id is not None
    regime = quote.vat_regime or (site.vat_regime if site else VatRegime.normal)
    return totals(
        (
            LineAmount(ln.unit_price_cents, _qty(ln.quantity_milli), _rate(ln.vat_rate_bp))
            for ln in lines_of(session, quote.id)
        ),
        charge_vat=regime == VatRegime.normal,
    )


def _qty(milli: int) -> Decimal:
    return Decimal(milli) / 1000


def _rate(bp: int) -> Decimal:
    return Decimal(bp) / 100


def issuer_snapshot(site: SiteProfile) -> dict[str, Any]:
    return site.model_dump(
        mode="json",
        include={
            "name",
            "legal_form",
            "address",
            "siret",
            "vat_number",
            "rcs",
            "email",
            "phone",
            "website",
            "logo",
            "quote_footer",
            "timezone",
        },
    )


def client_snapshot(org: Organisation) -> dict[str, Any]:
    return {
        "name": org.name,
        "legal_form": org.legal_form,
        "address": [row for row in org.address.splitlines() if row.strip()],
        "siret": org.siret,
        "vat_number": org.vat_number,
        "contact_name": org.contact_name,
        "email": org.email,
    }


def send(
    *, session: Session, user: User, quote_id: int, profiles: ProfileSet, at: datetime
) -> tuple[Quote, str]:
    """Number, freeze and send a draft. Returns the quote and its link's secret."""
    if not user.is_staff:
        raise Forbidden("only staff send quotes")
    site = profiles.site
    if site is None:
        raise Conflict("the café's identity is not set up: write profiles/site.toml first")
    quote = lock(session, quote_id)
    if quote.state != QuoteState.draft:
        raise Conflict(
            f"only a draft is sent; quote {quote.number or quote.id} is {quote.state.value}",
            state=quote.state.value,
        )
    assert quote.id is not None
    lines = lines_of(session, quote.id)
    if not lines:
        raise Conflict("the quote has no lines")
    unpriced = [ln.position for ln in lines if ln.needs_estimate]
    if unpriced:
        raise Conflict(
            "line(s) " + ", ".join(map(str, unpriced)) + " need a price set by hand: "
            "the automatic price misses part of the work",
            lines=unpriced,
        )
    org = session.get(Organisation, quote.organisation_id)
    assert org is not None
    if not org.address.strip():
        raise Conflict(f"{org.name} has no address; a quote must show the client's address")
    if site.vat_regime != VatRegime.normal:
        for line in lines:
            line.vat_rate_bp = 0
            session.add(line)
    elif any(_rate(ln.vat_rate_bp) not in site.vat_rates for ln in lines):
        raise Conflict("a line has a VAT rate the café does not use")
    session.flush()

    today = local_date(at, site.tz)
    seq = allocate_number(session, today.year)
    token = secrets.token_urlsafe(32)
    quote.number = f"{site.quote_prefix}-{today.year}-{seq:04d}"
    quote.year, quote.seq = today.year, seq
    quote.valid_until = today + timedelta(days=quote.validity_days)
    quote.vat_regime = site.vat_regime
    quote.vat_mention = site.mention
    quote.issuer = issuer_snapshot(site)
    quote.client = client_snapshot(org)
    quote.sent_at = at
    quote.sent_by_id = user.id
    quote.accept_token_hash = hash_token(token)
    t = quote_totals(session, quote, site)
    quote.total_ht_cents, quote.total_vat_cents, quote.total_ttc_cents = (
        t.ht_cents,
        t.vat_cents,
        t.ttc_cents,
    )
    move(
        session,
        quote,
        QuoteState.sent,
        actor=actor_of(user),
        action="sent",
        at=at,
        number=quote.number,
        total_ht_cents=t.ht_cents,
        total_ttc_cents=t.ttc_cents,
    )
    if quote.previous_id is not None:
        previous = lock(session, quote.previous_id)
        if previous.state == QuoteState.sent:
            move(
                session,
                previous,
                QuoteState.superseded,
                actor=actor_of(user),
                action="superseded",
                at=at,
                by=quote.number,
            )
    session.flush()
    return quote, token


def new_link(*, session: Session, user: User, quote_id: int, at: datetime) -> tuple[Quote, str]:
    """A new secret link for a sent quote (the old one stops working)."""
    if not user.is_staff:
        raise Forbidden("only staff give out quote links")
    quote = lock(session, quote_id)
    if quote.state != QuoteState.sent:
        raise Conflict(
            f"quote {quote.number or quote.id} is {quote.state.value}; only a sent "
            "quote has a link",
            state=quote.state.value,
        )
    token = secrets.token_urlsafe(32)
    quote.accept_token_hash = hash_token(token)
    session.add(quote)
    record_event(session, quote, actor=actor_of(user), action="new_link", at=at)
    return quote, token


def quote_for_token(session: Session, token: str, *, for_update: bool = False) -> Quote:
    query = select(Quote).where(Quote.accept_token_hash == hash_token(token))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    quote = session.exec(query).first() if token else None
    if quote is None:
        raise NotFound("this quote link is not valid (it may have been replaced by a newer one)")
    return quote


def is_expired(quote: Quote, at: datetime, site: SiteProfile | None) -> bool:
    if quote.state == QuoteState.expired:
        return True
    if quote.state != QuoteState.sent or quote.valid_until is None:
        return False
    tz = site.tz if site else _tz_of(quote)
    return local_date(at, tz) > quote.valid_until


def _tz_of(quote: Quote) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(quote.issuer.get("timezone", "Europe/Paris"))


def _answerable(quote: Quote, at: datetime, site: SiteProfile | None, action: str) -> None:
    """Refuse, with the reason, an answer to a quote that cannot take one now."""
    state = QuoteState(quote.state)
    if state == QuoteState.accepted or state == QuoteState.converted:
        raise Conflict(
            f"quote {quote.number} was already accepted on "
            f"{quote.accepted_at:%d/%m/%Y} by {quote.accepted_by_name}",
            state=state.value,
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


def accept(
    *,
    session: Session,
    quote: Quote,
    data: Acceptance,
    via: AcceptanceVia,
    actor: str,
    user: User | None,
    profiles: ProfileSet,
    at: datetime,
) -> Quote:
    """ "Bon pour accord". ``quote`` must be locked by the caller."""
    _answerable(quote, at, profiles.site, "accept")
    if not data.agree:
        raise Invalid("tick « bon pour accord » to accept the quote")
    signer = data.signer_name.strip()
    if not signer:
        raise Invalid("the signer's name is needed")
    quote.accepted_at = at
    quote.accepted_by_name = signer
    quote.accepted_by_user_id = user.id if user else None
    quote.acceptance_via = via
    move(
        session,
        quote,
        QuoteState.accepted,
        actor=actor,
        action="accepted",
        at=at,
        signer=signer,
        via=via.value,
    )
    return quote


def accept_as(
    *,
    session: Session,
    user: User,
    quote_id: int,
    data: Acceptance,
    profiles: ProfileSet,
    at: datetime,
) -> Quote:
    quote = locked_for(session, quote_id, user)
    via = AcceptanceVia.staff if user.is_staff else AcceptanceVia.account
    return accept(
        session=session,
        quote=quote,
        data=data,
        via=via,
        actor=actor_of(user),
        user=user,
        profiles=profiles,
        at=at,
    )


def refuse(
    *, session: Session, quote: Quote, data: Refusal, actor: str, profiles: ProfileSet, at: datetime
) -> Quote:
    _answerable(quote, at, profiles.site, "refuse")
    quote.refused_at = at
    quote.refusal_reason = data.reason or None
    move(
        session, quote, QuoteState.refused, actor=actor, action="refused", at=at, reason=data.reason
    )
    return quote


def refuse_as(
    *,
    session: Session,
    user: User,
    quote_id: int,
    data: Refusal,
    profiles: ProfileSet,
    at: datetime,
) -> Quote:
    quote = locked_for(session, quote_id, user)
    return refuse(
        session=session, quote=quote, data=data, actor=actor_of(user), profiles=profiles, at=at
    )


def expire_due(*, session: Session, profiles: ProfileSet, at: datetime) -> list[Quote]:
    """Mark expired every sent quote whose validity has passed (run by
    ``fabqueue quotes expire``; readers already see such quotes as expired)."""
    expired = []
    for quote in session.exec(
        select(Quote)
        .where(Quote.state == QuoteState.sent)
        .where(col(Quote.valid_until).is_not(None))
    ):
        if is_expired(quote, at, profiles.site):
            assert quote.id is not None
            locked = lock(session, quote.id)
            if locked.state == QuoteState.sent:
                move(
                    session,
                    locked,
                    QuoteState.expired,
                    actor=SYSTEM,
                    action="expired",
                    at=at,
                    valid_until=str(locked.valid_until),
                )
                expired.append(locked)
    return expired


def client_can_see_prices(quote: Quote) -> bool:
    return quote.number is not None
