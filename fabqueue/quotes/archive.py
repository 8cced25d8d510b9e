"""Each sent quote's PDF, kept as it was sent: the devis the client received is the one
shown afterwards, whatever the templates or the profiles became.

The same archive as the invoices': the file store (content-addressed), a
:class:`~fabqueue.models.StoredFile` row that keeps it out of the store's garbage
collection, and the sha256 in a ``pdf_archived`` event of the quote.
"""

from __future__ import annotations

import io
from datetime import datetime

from sqlmodel import Session, col, select

from fabqueue.models import Quote, QuoteEvent, StoredFile, User
from fabqueue.profiles import ProfileSet
from fabqueue.quotes.pdf import render_pdf
from fabqueue.quotes.sending import send
from fabqueue.quotes.workflow import actor_of, record_event
from fabqueue.services.errors import Conflict, NotFound
from fabqueue.storage import FileMissing, FileStore

ARCHIVED = "pdf_archived"
PDF_LIMIT = 50 * 1024 * 1024


def archived_sha256(session: Session, quote_id: int) -> str | None:
    """The sha256 of the PDF archived when the quote was sent (``None``: a draft, or a
    quote sent before quotes were archived)."""
    details = session.exec(
        select(QuoteEvent.detail)
        .where(QuoteEvent.quote_id == quote_id)
        .where(QuoteEvent.action == ARCHIVED)
        .order_by(col(QuoteEvent.id).desc())
    ).first()
    return None if details is None else str(details.get("pdf_sha256"))


def archive_sent_pdf(
    *,
    session: Session,
    quote_id: int,
    store: FileStore,
    profiles: ProfileSet,
    actor: str,
    at: datetime,
) -> str:
    """Print a sent quote, store the PDF and record its sha256; commit. Runs right after
    the sending commits (WeasyPrint is too slow to hold the write lock for). Once per
    quote: a second call returns the first archive."""
    quote = session.get(Quote, quote_id)
    if quote is None:
        raise NotFound(f"no quote {quote_id}")
    if quote.number is None:
        raise Conflict("a draft quote is not archived: it is printed when it is sent")
    done = archived_sha256(session, quote_id)
    if done is not None:
        return done
    stored = store.save(io.BytesIO(render_pdf(session, quote, profiles, at)), limit=PDF_LIMIT)
    if session.get(StoredFile, stored.sha256) is None:
        session.add(StoredFile(sha256=stored.sha256, size=stored.size, created_at=at))
    record_event(session, quote, actor=actor, action=ARCHIVED, at=at, pdf_sha256=stored.sha256)
    session.commit()
    return stored.sha256


def pdf_bytes(
    session: Session,
    quote: Quote,
    profiles: ProfileSet,
    store: FileStore,
    at: datetime,
    *,
    as_sent: bool = False,
) -> bytes:
    """The devis: the archived bytes of a sent quote; a draft (or a quote sent before the
    archive existed) is printed afresh.

    An accepted quote is a new document, the one sent plus its « bon pour accord »
    (who, when, how): it is printed from the record frozen when it was sent, unless
    ``as_sent`` asks for the archived bytes the client received.
    """
    assert quote.id is not None
    sha = archived_sha256(session, quote.id)
    if sha is None or (quote.accepted_at is not None and not as_sent):
        return render_pdf(session, quote, profiles, at)
    try:
        return store.fetch(sha).read_bytes()
    except FileMissing as exc:
        raise NotFound(
            f"the archived PDF of {quote.number} is missing from the file store"
        ) from exc


def send_and_archive(
    *,
    session: Session,
    user: User,
    quote_id: int,
    profiles: ProfileSet,
    store: FileStore,
    at: datetime,
) -> tuple[Quote, str]:
    """Send a draft (:func:`fabqueue.quotes.sending.send`, which commits), then archive
    the PDF as sent. Returns the quote and its link's secret."""
    quote, token = send(session=session, user=user, quote_id=quote_id, profiles=profiles, at=at)
    assert quote.id is not None
    archive_sent_pdf(
        session=session,
        quote_id=quote.id,
        store=store,
        profiles=profiles,
        actor=actor_of(user),
        at=at,
    )
    return quote, token
