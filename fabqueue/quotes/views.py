"""Quotes as the API shows them: staff see everything; clients (logged in or through
the link) see prices only once the quote has been sent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Session

from fabqueue.models import Organisation, Quote, QuoteLine, QuoteState, User
from fabqueue.models.quote_public import LinePublic, QuotePublic, TotalsPublic, VatPublic
from fabqueue.pricing import from_cents, line_total_cents
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.site import DEFAULT_MENTIONS, VatRegime
from fabqueue.quotes.sending import is_expired, quote_totals
from fabqueue.quotes.workflow import job_ids, lines_of


def line_public(line: QuoteLine, *, staff: bool, priced: bool) -> LinePublic:
    assert line.id is not None
    qty = Decimal(line.quantity_milli) / 1000
    return LinePublic(
        id=line.id,
        position=line.position,
        kind=line.kind,
        description=line.description,
        quantity=qty,
        unit=line.unit,
        unit_price_ht=from_cents(line.unit_price_cents) if priced else None,
        vat_rate=Decimal(line.vat_rate_bp) / 100,
        total_ht=from_cents(line_total_cents(line.unit_price_cents, qty)) if priced else None,
        price_source=line.price_source,
        needs_estimate=line.needs_estimate,
        missing=line.missing if staff else [],
        machine_kind=line.machine_kind,
        material=line.material,
        design_minutes=line.design_minutes,
        file_name=line.file_name,
        file_type=line.file_type,
        file_size=line.file_size,
        analysis=line.analysis if staff else None,
        price_detail=line.price_detail if staff else None,
    )


def effective_state(quote: Quote, profiles: ProfileSet, at: datetime) -> QuoteState:
    """A sent quote past its validity is expired, whether or not the sweep ran yet."""
    if quote.state == QuoteState.sent and is_expired(quote, at, profiles.site):
        return QuoteState.expired
    return QuoteState(quote.state)


def to_public(
    session: Session, quote: Quote, user: User | None, profiles: ProfileSet, at: datetime
) -> QuotePublic:
    assert quote.id is not None
    staff = user is not None and user.is_staff
    priced = staff or quote.number is not None
    org = session.get(Organisation, quote.organisation_id)
    assert org is not None
    previous = session.get(Quote, quote.previous_id) if quote.previous_id else None
    totals = None
    if priced:
        t = quote_totals(session, quote, profiles.site)
        regime = quote.vat_regime or (profiles.site.vat_regime if profiles.site else None)
        mention = quote.vat_mention
        if mention is None:
            mention = profiles.site.mention if profiles.site else DEFAULT_MENTIONS[VatRegime.normal]
        totals = TotalsPublic(
            ht=from_cents(t.ht_cents),
            vat=[
                VatPublic(
                    rate=v.rate, base_ht=from_cents(v.base_ht_cents), vat=from_cents(v.vat_cents)
                )
                for v in t.vat
            ],
            ttc=from_cents(t.ttc_cents),
            vat_mention=mention if regime != VatRegime.normal else "",
        )
    return QuotePublic(
        id=quote.id,
        organisation_id=quote.organisation_id,
        organisation_name=org.name,
        state=effective_state(quote, profiles, at),
        number=quote.number,
        version=quote.version,
        previous_id=quote.previous_id,
        previous_number=previous.number if previous else None,
        title=quote.title,
        request_notes=quote.request_notes,
        notes=quote.notes,
        lead_time=quote.lead_time,
        payment_terms=quote.payment_terms,
        validity_days=quote.validity_days,
        valid_until=quote.valid_until,
        vat_regime=quote.vat_regime,
        created_at=quote.created_at,
        updated_at=quote.updated_at,
        sent_at=quote.sent_at,
        accepted_at=quote.accepted_at,
        accepted_by_name=quote.accepted_by_name,
        acceptance_via=quote.acceptance_via,
        signed_on=quote.signed_on,
        refused_at=quote.refused_at,
        refusal_reason=quote.refusal_reason,
        converted_at=quote.converted_at,
        lines=[line_public(ln, staff=staff, priced=priced) for ln in lines_of(session, quote.id)],
        totals=totals,
        job_ids=job_ids(session, quote.id),
    )
