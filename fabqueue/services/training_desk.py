"""What the trainings pages show: trainings, their sessions with who is enrolled, and
the authorisations about to expire. Reading only; every change goes through
:mod:`fabqueue.services.trainings`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from fabqueue.models import Authorisation, Enrolment, Training, TrainingSession, User
from fabqueue.services.errors import NotFound
from fabqueue.services.trainings import enrolments, get_training

EXPIRY_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class SessionRow:
    session: TrainingSession
    training: Training
    facilitator: str
    enrolled: int


@dataclass(frozen=True)
class Attendee:
    enrolment: Enrolment
    name: str


@dataclass(frozen=True)
class SessionDetail:
    row: SessionRow
    attendees: list[Attendee]


@dataclass(frozen=True)
class Expiring:
    authorisation: Authorisation
    member: str


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(User).where(col(User.id).in_(ids)))
    return {u.id: u.name for u in rows if u.id is not None}


def trainings(session: Session) -> list[Training]:
    return list(session.exec(select(Training).order_by(col(Training.name))))


def sessions(session: Session, *, since: datetime) -> list[SessionRow]:
    """Sessions that end after ``since``, soonest first."""
    found = list(
        session.exec(
            select(TrainingSession)
            .where(TrainingSession.ends_at > since)
            .order_by(col(TrainingSession.starts_at))
        )
    )
    counts: dict[int, int] = dict(
        session.exec(
            select(Enrolment.session_id, func.count())
            .where(col(Enrolment.session_id).in_([s.id for s in found]))
            .group_by(col(Enrolment.session_id))
        ).all()
    )
    by_id = {t.id: t for t in trainings(session)}
    names = _names(session, {s.facilitator_id for s in found})
    return [
        SessionRow(
            s, by_id[s.training_id], names.get(s.facilitator_id, "?"), counts.get(s.id or 0, 0)
        )
        for s in found
    ]


def session_detail(session: Session, session_id: int) -> SessionDetail:
    ts = session.get(TrainingSession, session_id)
    if ts is None:
        raise NotFound(f"no training session {session_id}")
    people = enrolments(session, session_id)
    names = _names(session, {e.member_id for e in people} | {ts.facilitator_id})
    row = SessionRow(
        ts, get_training(session, ts.training_id), names.get(ts.facilitator_id, "?"), len(people)
    )
    return SessionDetail(row, [Attendee(e, names.get(e.member_id, "?")) for e in people])


def expiring(session: Session, now: datetime, window: timedelta = EXPIRY_WINDOW) -> list[Expiring]:
    """Authorisations still valid that reach their expiry date within ``window``."""
    found = list(
        session.exec(
            select(Authorisation)
            .where(col(Authorisation.revoked_at).is_(None))
            .where(col(Authorisation.expires_at).is_not(None))
            .where(col(Authorisation.expires_at) > now)
            .where(col(Authorisation.expires_at) <= now + window)
            .order_by(col(Authorisation.expires_at))
        )
    )
    names = _names(session, {a.member_id for a in found})
    return [Expiring(a, names.get(a.member_id, "?")) for a in found]


def members(session: Session) -> list[User]:
    """Active people who can be enrolled (members; staff are authorised on everything)."""
    return list(
        session.exec(
            select(User)
            .where(col(User.active).is_(True), User.role == "member")
            .order_by(col(User.name))
        )
    )
