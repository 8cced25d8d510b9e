"""Writing messages to the outbox, in the caller's transaction (the caller commits).

A message is written with the state change that causes it, so either both happen or
neither: a job that succeeded always has its « prêt à récupérer », and a rolled-back
change never tells anyone anything.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from fabqueue.events import queue_bus_event
from fabqueue.models.clients import ClientAccount, Organisation
from fabqueue.models.notifications import MailPreference, MailState, NoticeKind, Notification
from fabqueue.models.users import User
from fabqueue.notify.words import subject_for

QUEUED_TOPIC = "notify:queued"


@dataclass(frozen=True)
class Recipient:
    user_id: int | None
    email: str | None

    @property
    def key(self) -> tuple[int | None, str | None]:
        return (self.user_id, self.email.lower() if self.email else None)


def looks_like_email(value: str | None) -> bool:
    if not value:
        return False
    value = value.strip()
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and " " not in value)


def preference_for_user(session: Session, user_id: int) -> MailPreference | None:
    return session.exec(select(MailPreference).where(MailPreference.user_id == user_id)).first()


def preference_for_email(session: Session, email: str) -> MailPreference | None:
    return session.exec(
        select(MailPreference)
        .where(MailPreference.user_id == None)  # noqa: E711
        .where(MailPreference.email == email.strip().lower())
    ).first()


def ensure_preference(
    session: Session, *, at: datetime, user_id: int | None = None, email: str | None = None
) -> MailPreference:
    """The person's preference row (made on first need: it holds the unsubscribe link)."""
    found = (
        preference_for_user(session, user_id)
        if user_id is not None
        else preference_for_email(session, email or "")
    )
    if found is not None:
        return found
    pref = MailPreference(
        user_id=user_id,
        email=email.strip().lower() if email and user_id is None else None,
        token=secrets.token_urlsafe(24),
        updated_at=at,
    )
    session.add(pref)
    session.flush()
    return pref


def user_address(session: Session, user: User) -> str | None:
    """A user's e-mail: the one they gave for messages, else their organisation's."""
    assert user.id is not None
    pref = preference_for_user(session, user.id)
    if pref is not None and pref.email:
        return pref.email
    account = session.get(ClientAccount, user.id)
    if account is not None:
        org = session.get(Organisation, account.organisation_id)
        if org is not None and looks_like_email(org.email):
            return org.email
    return None


def user_recipient(session: Session, user: User) -> Recipient:
    return Recipient(user.id, user_address(session, user))


def organisation_recipients(session: Session, org: Organisation) -> list[Recipient]:
    """The client accounts of a shop (who also see notices), else its contact e-mail."""
    users = session.exec(
        select(User)
        .join(ClientAccount, ClientAccount.user_id == User.id)  # type: ignore[arg-type]
        .where(ClientAccount.organisation_id == org.id)
        .where(User.active == True)  # noqa: E712
    ).all()
    if users:
        return [user_recipient(session, u) for u in users]
    if org.email is None or not looks_like_email(org.email):
        return []
    return [Recipient(None, org.email.strip())]


def _email_wanted(session: Session, recipient: Recipient, kind: NoticeKind) -> bool:
    if recipient.email is None:
        return False
    pref = (
        preference_for_user(session, recipient.user_id)
        if recipient.user_id is not None
        else preference_for_email(session, recipient.email)
    )
    return pref is None or pref.wants(kind)


def enqueue(
    session: Session,
    recipients: list[Recipient],
    kind: NoticeKind,
    *,
    params: dict[str, Any],
    link: str,
    at: datetime,
    attachment: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> list[Notification]:
    """One message per recipient (the same person listed twice gets one). A recipient
    without an address, or who unsubscribed from ``kind``, gets the notice only."""
    seen: set[tuple[int | None, str | None]] = set()
    written = []
    for r in recipients:
        if r.key in seen or (r.user_id is None and r.email is None):
            continue
        seen.add(r.key)
        wanted = _email_wanted(session, r, kind)
        note = Notification(
            user_id=r.user_id,
            email=r.email,
            kind=kind,
            subject=subject_for(kind, params),
            params=params,
            link=link,
            attachment=attachment,
            dedupe_key=f"{dedupe_key}:{r.key}" if dedupe_key else None,
            state=MailState.pending if wanted else MailState.skipped,
            next_try_at=at,
            last_error=None if wanted or r.email is None else "unsubscribed",
            created_at=at,
            updated_at=at,
        )
        session.add(note)
        written.append(note)
    if written:
        session.flush()
        queue_bus_event(session, QUEUED_TOPIC, {"count": len(written)})
    return written


def already_written(session: Session, dedupe_key: str) -> bool:
    """A scan's message for ``dedupe_key`` exists (for any recipient)."""
    found = session.exec(
        select(Notification.id).where(col(Notification.dedupe_key).startswith(dedupe_key + ":"))
    ).first()
    return found is not None
