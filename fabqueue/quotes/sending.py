"""Sending a quote: number, freeze, link. The client's answer is in ``answers``.

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
from sqlmodel import Session, select

from fabqueue.models import Organisation, Quote, QuoteLine, QuoteSequence, QuoteState, User
from fabqueue.pricing import LineAmount, Totals, line_total_cents, totals
from fabqueue.profiles import ProfileSet, SiteProfile
from fabqueue.profiles.site import VatRegime
from fabqueue.quotes.states import move
from fabqueue.quotes.workflow import (
    actor_of,
    agreed_version,
    lines_of,
    lock,
    lock_versions,
    record_event,
)
from fabqueue.services.errors import Conflict, Forbidden, NotFound

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
    """The quote's totals. VAT is computed on each rate's base: the lines of a rate are
    added up first, so a discount line (negative) lowers the base it belongs to."""
    assert quote.id is not None
    regime = quote.vat_regime or (site.vat_regime if site else VatRegime.normal)
    bases: dict[int, int] = {}
    for ln in lines_of(session, quote.id):
        cents = line_total_cents(ln.unit_price_cents, _qty(ln.quantity_milli))
        bases[ln.vat_rate_bp] = bases.get(ln.vat_rate_bp, 0) + cents
    return totals(
        (LineAmount(cents, Decimal(1), _rate(bp)) for bp, cents in bases.items()),
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
            "rm",
            "rna",
            "ei",
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


def _check_lines(lines: list[QuoteLine]) -> None:
    if not lines:
        raise Conflict("the quote has no lines")
    unpriced = [ln.position for ln in lines if ln.needs_estimate]
    if unpriced:
        raise Conflict(
            "line(s) " + ", ".join(map(str, unpriced)) + " need a price set by hand: "
            "the automatic price misses part of the work",
            lines=unpriced,
        )


def apply_vat_regime(session: Session, lines: list[QuoteLine], site: SiteProfile) -> list[int]:
    """Give each line the VAT rate of the regime in force now; return the lines changed.

    A draft may have been priced under another regime (the café switched from the
    franchise to the normal regime meanwhile): outside the normal regime no line carries
    VAT; under it, a line whose rate staff did not choose takes the default rate, and a
    chosen rate must be one the café uses, else the send is refused.
    """
    changed = []
    for line in lines:
        if site.vat_regime != VatRegime.normal:
            rate_bp = 0
        elif not line.vat_rate_manual:
            rate_bp = int(site.default_vat_rate * 100)
        else:
            rate_bp = line.vat_rate_bp
        if rate_bp != line.vat_rate_bp:
            line.vat_rate_bp = rate_bp
            session.add(line)
            changed.append(line.position)
    wrong = [ln.position for ln in lines if not _vat_agrees(ln, site)]
    if wrong:
        raise Conflict(
            "line(s) " + ", ".join(map(str, wrong)) + " have a VAT rate the café does not use "
            f"under its {site.vat_regime.value} regime; change them before sending",
            lines=wrong,
        )
    return changed


def _vat_agrees(line: QuoteLine, site: SiteProfile) -> bool:
    if site.vat_regime != VatRegime.normal:
        return line.vat_rate_bp == 0
    return _rate(line.vat_rate_bp) in site.vat_rates


def _client_of(session: Session, quote: Quote) -> Organisation:
    org = session.get(Organisation, quote.organisation_id)
    assert org is not None
    if not org.address.strip():
        raise Conflict(f"{org.name} has no address; a quote must show the client's address")
    return org


def _freeze(
    session: Session, quote: Quote, site: SiteProfile, org: Organisation, at: datetime
) -> str:
    """Number the quote and write what it is sent with; return its link's secret."""
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
    quote.accept_token_hash = hash_token(token)
    t = quote_totals(session, quote, site)
    quote.total_ht_cents, quote.total_vat_cents, quote.total_ttc_cents = (
        t.ht_cents,
        t.vat_cents,
        t.ttc_cents,
    )
    return token


def send(
    *, session: Session, user: User, quote_id: int, profiles: ProfileSet, at: datetime
) -> tuple[Quote, str]:
    """Number, freeze and send a draft. Returns the quote and its link's secret.

    Sending a version supersedes the other versions still waiting for an answer; it is
    refused when the client already accepted another version.
    """
    if not user.is_staff:
        raise Forbidden("only staff send quotes")
    site = profiles.site
    if site is None:
        raise Conflict("the café's identity is not set up: write profiles/site.toml first")
    quote, others = lock_versions(session, quote_id)
    if quote.state != QuoteState.draft:
        raise Conflict(
            f"only a draft is sent; quote {quote.number or quote.id} is {quote.state.value}",
            state=quote.state.value,
        )
    agreed = agreed_version(others)
    if agreed is not None:
        raise Conflict(
            f"version {agreed.number} of this quote was already accepted; "
            "another version cannot be sent",
            state=agreed.state.value,
        )
    assert quote.id is not None
    lines = lines_of(session, quote.id)
    _check_lines(lines)
    org = _client_of(session, quote)
    repriced = apply_vat_regime(session, lines, site)
    session.flush()
    token = _freeze(session, quote, site, org, at)
    move(
        session,
        quote,
        QuoteState.sent,
        expected=[QuoteState.draft],
        actor=actor_of(user),
        at=at,
        values={"sent_at": at, "sent_by_id": user.id},
        number=quote.number,
        total_ht_cents=quote.total_ht_cents,
        total_ttc_cents=quote.total_ttc_cents,
        vat_rates_changed=repriced,
    )
    close_others(session, others, actor=actor_of(user), at=at, by=quote, only_sent=True, site=site)
    session.commit()
    return quote, token


def close_others(
    session: Session,
    others: list[Quote],
    *,
    actor: str,
    at: datetime,
    by: Quote,
    only_sent: bool,
    site: SiteProfile | None,
) -> None:
    """Close the other versions of a quote: those sent are superseded by ``by`` (or
    marked expired, if their validity is over: a paper copy signed in time may still come
    back for them); drafts and requests (unless ``only_sent``) are cancelled. Refused and
    expired versions stay as they are."""
    for other in others:
        state = QuoteState(other.state)
        if state == QuoteState.sent and is_expired(other, at, site):
            move(
                session,
                other,
                QuoteState.expired,
                expected=[QuoteState.sent],
                actor=SYSTEM,
                at=at,
                valid_until=str(other.valid_until),
            )
        elif state == QuoteState.sent:
            move(
                session,
                other,
                QuoteState.superseded,
                expected=[QuoteState.sent],
                actor=actor,
                at=at,
                by=by.number,
            )
        elif state in (QuoteState.requested, QuoteState.draft) and not only_sent:
            move(
                session,
                other,
                QuoteState.cancelled,
                expected=[state],
                actor=actor,
                at=at,
                action="closed",
                reason=f"version {by.number} was accepted",
            )


def new_link(
    *, session: Session, user: User, quote_id: int, profiles: ProfileSet, at: datetime
) -> tuple[Quote, str]:
    """A new secret link for a sent quote still valid (the old one stops working)."""
    if not user.is_staff:
        raise Forbidden("only staff give out quote links")
    quote = lock(session, quote_id)
    if quote.state == QuoteState.sent and is_expired(quote, at, profiles.site):
        raise Conflict(
            f"quote {quote.number} expired on {quote.valid_until:%d/%m/%Y}: make a new "
            "version, or record the paper copy if the client signed it in time",
            state=QuoteState.expired.value,
        )
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
    session.commit()
    return quote, token


def quote_for_token(session: Session, token: str) -> Quote:
    quote = (
        session.exec(select(Quote).where(Quote.accept_token_hash == hash_token(token))).first()
        if token
        else None
    )
    if quote is None:
        raise NotFound("this quote link is not valid (it may have been replaced by a newer one)")
    return quote


def is_expired(quote: Quote, at: datetime, site: SiteProfile | None) -> bool:
    if quote.state == QuoteState.expired:
        return True
    if quote.state != QuoteState.sent or quote.valid_until is None:
        return False
    tz = site.tz if site else tz_of(quote)
    return local_date(at, tz) > quote.valid_until


def tz_of(quote: Quote) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(quote.issuer.get("timezone", "Europe/Paris"))
