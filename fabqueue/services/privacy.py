"""A member's personal data: export it, erase it; and old uploaded files purged.

Erasure replaces who the person is and keeps what happened: bookings and jobs stay, as
an anonymous user's, so the machines' statistics and the accounts still add up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from fabqueue.models import (
    ApiToken,
    Authorisation,
    Booking,
    CalendarToken,
    Enrolment,
    Job,
    StoredFile,
    User,
)
from fabqueue.services.errors import Conflict, Forbidden, NotFound
from fabqueue.states import TERMINAL_STATES
from fabqueue.storage import FileStore

ERASED_PREFIX = "effacé-"


def _user(session: Session, user_id: int, by: User) -> User:
    if user_id != by.id and not by.is_staff:
        raise Forbidden("on n'accède qu'à ses propres données")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in rows]


def export(session: Session, user_id: int, by: User) -> dict[str, Any]:
    """Everything fabqueue holds about a person, as JSON."""
    user = _user(session, user_id, by)
    jobs = session.exec(select(Job).where(Job.owner_id == user_id).order_by(col(Job.id)))
    return {
        "profile": user.model_dump(mode="json"),
        "authorisations": _rows(
            session.exec(select(Authorisation).where(Authorisation.member_id == user_id))
        ),
        "trainings": _rows(session.exec(select(Enrolment).where(Enrolment.member_id == user_id))),
        "bookings": _rows(
            session.exec(
                select(Booking).where(Booking.member_id == user_id).order_by(col(Booking.id))
            )
        ),
        "jobs": [j.model_dump(mode="json", exclude={"analysis", "checkpoint"}) for j in jobs],
    }


def erase(session: Session, user_id: int, by: User, at: datetime) -> dict[str, int]:
    """Replace the person's name, end their tokens and feeds; keep counts of what they did."""
    if not by.is_staff:
        raise Forbidden("réservé à l'équipe")
    user = _user(session, user_id, by)
    if user.name.startswith(ERASED_PREFIX):
        raise Conflict(f"user {user_id} is already erased")
    user.name = f"{ERASED_PREFIX}{user_id}"
    user.active = False
    session.add(user)
    for token in session.exec(select(ApiToken).where(ApiToken.user_id == user_id)):
        token.revoked_at = token.revoked_at or at
        token.label = ""
        session.add(token)
    for feed in session.exec(select(CalendarToken).where(CalendarToken.member_id == user_id)):
        feed.revoked_at = feed.revoked_at or at
        session.add(feed)
    for b in session.exec(select(Booking).where(Booking.member_id == user_id)):
        b.note = None
        session.add(b)
    kept = {
        "bookings": _count(session, select(func.count()).where(Booking.member_id == user_id)),
        "jobs": _count(session, select(func.count()).where(Job.owner_id == user_id)),
    }
    session.commit()
    return kept


def _count(session: Session, q: Any) -> int:
    return int(session.exec(q).one())


def purgeable(session: Session, *, days: int, now: datetime) -> list[str]:
    cutoff = now - timedelta(days=days)
    terminal = [s.value for s in TERMINAL_STATES]
    unfinished = select(Job.file_sha256).where(col(Job.state).not_in(terminal))
    recent = select(Job.file_sha256).where(Job.created_at >= cutoff)
    return list(
        session.exec(
            select(StoredFile.sha256)
            .where(StoredFile.created_at < cutoff)
            .where(col(StoredFile.sha256).not_in(unfinished))
            .where(col(StoredFile.sha256).not_in(recent))
        )
    )


def purge_files(session: Session, store: FileStore, *, days: int, now: datetime) -> list[str]:
    """Remove uploaded files whose newest job is older than ``days`` and finished.

    The database row stays (jobs refer to it), only the bytes go; a file any unfinished
    job uses (queued, held, running, interrupted…) is never touched, however old.
    """
    removed = []
    for sha in purgeable(session, days=days, now=now):
        if store.delete(sha):
            removed.append(sha)
    return removed
