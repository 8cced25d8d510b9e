"""Messages about quotes: sent (with its PDF), about to expire (a scan)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from fabqueue.models.clients import Organisation
from fabqueue.models.notifications import NoticeKind
from fabqueue.models.quotes import Quote, QuoteState
from fabqueue.notify import french
from fabqueue.notify.outbox import already_written, enqueue, organisation_recipients


def quote_link(token: str) -> str:
    """The shopkeeper's page of a sent quote, behind its secret."""
    return f"/devis/{token}"


def _params(quote: Quote, cafe: str) -> dict[str, object]:
    return {
        "quote_id": quote.id,
        "number": quote.number,
        "cafe": cafe,
        "valid_until": quote.valid_until.isoformat() if quote.valid_until else None,
        "valid_until_text": french.day(quote.valid_until) if quote.valid_until else None,
        "total_ht_text": french.euros(quote.total_ht_cents or 0),
        "total_ttc_text": french.euros(quote.total_ttc_cents or 0),
    }


def quote_sent(
    session: Session, quote: Quote, org: Organisation, token: str, *, cafe: str, at: datetime
) -> None:
    """In the transaction that marks the quote sent: its link and PDF to the shop."""
    enqueue(
        session,
        organisation_recipients(session, org),
        NoticeKind.quote_sent,
        params=_params(quote, cafe),
        link=quote_link(token),
        at=at,
        attachment={"quote_id": quote.id},
    )


def scan_expiring(
    session: Session, *, at: datetime, tz: ZoneInfo, days_before: int, cafe: str
) -> int:
    """Tell the shops whose sent quote ends within ``days_before`` days, once per quote.

    The quote link's secret is only known when it is made, so this message links to the
    one already sent (the shopkeeper has it), and names the quote to find it."""
    today = at.astimezone(tz).date()
    soon = today + timedelta(days=days_before)
    quotes = session.exec(
        select(Quote)
        .where(Quote.state == QuoteState.sent)
        .where(col(Quote.valid_until) >= today)
        .where(col(Quote.valid_until) <= soon)
    ).all()
    made = 0
    for quote in quotes:
        key = f"quote_expiring:{quote.id}:{quote.valid_until}"
        if already_written(session, key):
            continue
        org = session.get(Organisation, quote.organisation_id)
        if org is None:
            continue
        made += len(
            enqueue(
                session,
                organisation_recipients(session, org),
                NoticeKind.quote_expiring,
                params=_params(quote, cafe),
                link="",
                at=at,
                dedupe_key=key,
            )
        )
    return made
