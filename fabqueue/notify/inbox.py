"""What the pages and the CLI do with the outbox: a person's notices (unread count,
list, mark read), staff's view of e-mails not sent (list, send again), and each
person's e-mail choices (address, unsubscribe). Functions that write commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, func, update
from sqlmodel import Session, col, select

from fabqueue.events import queue_bus_event
from fabqueue.models.notifications import MailPreference, MailState, NoticeKind, Notification
from fabqueue.models.users import User
from fabqueue.notify.outbox import (
    QUEUED_TOPIC,
    ensure_preference,
    looks_like_email,
    preference_for_user,
    user_address,
)

__all__ = ["preference_for_user", "user_address"]
from fabqueue.services.errors import Conflict, Forbidden, NotFound

STAFF_STATES = (MailState.failed, MailState.pending, MailState.sending)
"""What staff watch: e-mails not (yet) sent."""


def notices_for(session: Session, user_id: int, *, limit: int = 20) -> list[Notification]:
    return list(
        session.exec(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(col(Notification.id).desc())
            .limit(limit)
        ).all()
    )


def unread_count(session: Session, user_id: int) -> int:
    count = session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id)
        .where(col(Notification.read_at).is_(None))
    ).one()
    return int(count)


def mark_read(session: Session, user: User, *, at: datetime, note_id: int | None = None) -> int:
    """Mark one of the user's notices read (or all of them); returns how many changed."""
    stmt = (
        update(Notification)
        .where(col(Notification.user_id) == user.id)
        .where(col(Notification.read_at).is_(None))
    )
    if note_id is not None:
        stmt = stmt.where(col(Notification.id) == note_id)
    result = session.execute(stmt.values(read_at=at).execution_options(synchronize_session=False))
    session.commit()
    assert isinstance(result, CursorResult)
    return result.rowcount


def outbox(
    session: Session, *, states: tuple[MailState, ...] = STAFF_STATES, limit: int = 200
) -> list[Notification]:
    """E-mails in ``states``, failed first, then oldest first."""
    order = (col(Notification.state) != MailState.failed, col(Notification.id))
    return list(
        session.exec(
            select(Notification)
            .where(col(Notification.state).in_([s.value for s in states]))
            .order_by(*order)
            .limit(limit)
        ).all()
    )


def retry(session: Session, user: User | None, note_id: int, *, at: datetime) -> Notification:
    """Send a failed e-mail again, from its first try. ``user`` None: the
    command line, run by whoever runs the service."""
    if user is not None and not user.is_staff:
        raise Forbidden("only staff send e-mails again")
    note = session.get(Notification, note_id)
    if note is None:
        raise NotFound(f"no e-mail {note_id}")
    if note.email is None:
        raise Conflict(f"message {note_id} has no e-mail address: it is a notice on a page")
    if note.state != MailState.failed:
        # A skipped e-mail stays skipped: its person unsubscribed, or no server was set up.
        raise Conflict(f"e-mail {note_id} is {note.state}; only a failed one is sent again")
    result = session.execute(
        update(Notification)
        .where(col(Notification.id) == note_id)
        .where(col(Notification.state) == note.state)
        .values(
            state=MailState.pending,
            tries=0,
            next_try_at=at,
            updated_at=at,
        )
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        raise Conflict(f"e-mail {note_id} changed meanwhile; look again")
    queue_bus_event(session, QUEUED_TOPIC, {"count": 1})
    session.commit()
    session.refresh(note)
    return note


def retry_failed(session: Session, *, at: datetime) -> int:
    """Every failed e-mail back to the queue (the command line, after fixing the server)."""
    ids = [
        n.id for n in outbox(session, states=(MailState.failed,), limit=10_000) if n.id is not None
    ]
    for note_id in ids:
        retry(session, None, note_id, at=at)
    return len(ids)


def preference_by_token(session: Session, token: str) -> MailPreference:
    pref = (
        session.exec(select(MailPreference).where(MailPreference.token == token)).first()
        if token
        else None
    )
    if pref is None:
        raise NotFound("this unsubscribe link is not valid")
    return pref


def unsubscribe(
    session: Session, token: str, *, kind: NoticeKind | None, at: datetime
) -> MailPreference:
    """Stop e-mails of ``kind`` (None: all of them) for the link's person. Notices on
    the pages stay."""
    pref = preference_by_token(session, token)
    if kind is None:
        pref.off_all = True
    elif kind.value not in pref.off_kinds:
        pref.off_kinds = [*pref.off_kinds, kind.value]
    pref.updated_at = at
    session.add(pref)
    session.commit()
    session.refresh(pref)
    return pref


def set_choices(
    session: Session,
    user: User,
    *,
    email: str | None,
    off_all: bool,
    off_kinds: list[NoticeKind],
    at: datetime,
) -> MailPreference:
    """A signed-in person's own choices: their address and which e-mails they want."""
    assert user.id is not None
    if email and not looks_like_email(email):
        raise Conflict(f"{email!r} is not an e-mail address")
    pref = ensure_preference(session, at=at, user_id=user.id)
    pref.email = email.strip() if email else None
    pref.off_all = off_all
    pref.off_kinds = sorted({k.value for k in off_kinds})
    pref.updated_at = at
    session.add(pref)
    session.commit()
    session.refresh(pref)
    return pref
