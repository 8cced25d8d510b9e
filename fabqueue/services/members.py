"""What a member's own pages show: their rights on each machine, the training sessions
open to them, a machine's week as they may book it, and the queue without other people.

Reads only: every decision (may they book, enrol, submit) stays with ``booking_rules``,
``trainings`` and ``jobs``, which the pages call for the action itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from fabqueue.models import (
    Authorisation,
    Booking,
    CalendarToken,
    Enrolment,
    Job,
    MachineRecord,
    Training,
    TrainingSession,
    User,
)
from fabqueue.profiles import ProfileSet
from fabqueue.services import availability, calendars, trainings
from fabqueue.services.booking_rules import calendar_for, machine_booking, policy_of, tz_of
from fabqueue.services.errors import NotFound
from fabqueue.states import ACTIVE_STATES, JobState
from jobs.base import MachineKind

WAITING = (JobState.queued, JobState.held, JobState.draft)


@dataclass(frozen=True)
class MachineRight:
    slug: str
    name: str
    kind: MachineKind
    allowed: bool
    until: datetime | None
    """When the authorisation that allows it expires (None: no end date)."""
    problem: str | None
    """Why not, in French (the rules' own words)."""
    bookable: bool


def _valid_until(
    session: Session,
    auths: Sequence[Authorisation],
    record: MachineRecord,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[bool, datetime | None]:
    matching = [
        a
        for a in auths
        if a.machine == record.slug or (a.machine is None and a.kind == record.kind.value)
    ]
    valid = [a for a in matching if trainings.problem_with(session, a, now, tz) is None]
    if not valid:
        return False, None
    if any(a.expires_at is None for a in valid):
        return True, None
    return True, max(a.expires_at for a in valid if a.expires_at is not None)


def rights(session: Session, profiles: ProfileSet, user: User, now: datetime) -> list[MachineRight]:
    """Each machine of the café: may ``user`` use it, until when, and if not, why."""
    assert user.id is not None
    tz = tz_of(profiles)
    auths = [] if user.is_staff else trainings.authorisations(session, user.id)
    out: list[MachineRight] = []
    for record in session.exec(select(MachineRecord).order_by(col(MachineRecord.name))):
        ref = trainings.MachineRef(record.slug, record.kind.value, record.name)
        problem = trainings.usage_problem(session, user, ref, now, tz)
        until = None
        if problem is None and not user.is_staff:
            _ok, until = _valid_until(session, auths, record, now, tz)
        out.append(
            MachineRight(
                slug=record.slug,
                name=record.name,
                kind=record.kind,
                allowed=problem is None,
                until=until,
                problem=problem,
                bookable=machine_booking(profiles, record.slug).bookable,
            )
        )
    return out


@dataclass(frozen=True)
class SessionOffer:
    id: int
    training: str
    starts_at: datetime
    ends_at: datetime
    places_left: int
    enrolled: bool
    unlocks: list[str]
    """Machine names and kinds the training unlocks."""


def _unlocks(session: Session, training: Training) -> list[str]:
    names = []
    for slug in training.machines:
        record = session.get(MachineRecord, slug)
        names.append(record.name if record else slug)
    return names + list(training.kinds)


def upcoming_sessions(session: Session, user: User, now: datetime) -> list[SessionOffer]:
    """Training sessions not yet begun, with their free places and whether ``user`` is in."""
    taken = (
        select(Enrolment.session_id, func.count().label("n"))
        .group_by(col(Enrolment.session_id))
        .subquery()
    )
    rows = session.exec(
        select(TrainingSession, Training, taken.c.n)
        .join(Training, col(Training.id) == col(TrainingSession.training_id))
        .outerjoin(taken, taken.c.session_id == col(TrainingSession.id))
        .where(TrainingSession.starts_at > now)
        .order_by(col(TrainingSession.starts_at))
        .limit(50)
    ).all()
    mine = set(
        session.exec(select(Enrolment.session_id).where(Enrolment.member_id == user.id)).all()
    )
    out = []
    for ts, training, n in rows:
        assert ts.id is not None
        out.append(
            SessionOffer(
                id=ts.id,
                training=training.name,
                starts_at=ts.starts_at,
                ends_at=ts.ends_at,
                places_left=max(0, ts.places - (n or 0)),
                enrolled=ts.id in mine,
                unlocks=_unlocks(session, training),
            )
        )
    return out


@dataclass(frozen=True)
class Day:
    day: date
    segments: list[availability.Segment]


def week(
    session: Session,
    profiles: ProfileSet,
    user: User,
    machine: str,
    first: date,
    now: datetime,
    days: int = 7,
) -> list[Day]:
    """The machine's ``days`` local days from ``first``, cut into free and taken ranges as
    ``user`` may book them (the availability service's answer, split per day)."""
    if session.get(MachineRecord, machine) is None:
        raise NotFound(f"aucune machine « {machine} »")
    cal = calendar_for(profiles, machine)
    out = []
    for i in range(days):
        d = first + timedelta(days=i)
        start, end = cal.local(d, 0), cal.local(d, 1440)
        segments = availability.machine_availability(session, cal, machine, user, start, end, now)
        out.append(Day(d, segments))
    return out


def lengths(profiles: ProfileSet, free_minutes: float) -> list[int]:
    """The booking lengths a member may choose inside a free range, in minutes."""
    p = policy_of(profiles)
    top = min(p.max_minutes, int(free_minutes))
    return list(range(p.min_minutes, top + 1, p.slot_minutes))


def upcoming_bookings(session: Session, user: User, now: datetime) -> list[Booking]:
    return list(
        session.exec(
            select(Booking)
            .where(Booking.member_id == user.id)
            .where(col(Booking.cancelled_at).is_(None))
            .where(Booking.ends_at > now)
            .order_by(col(Booking.starts_at))
            .limit(100)
        )
    )


def current_booking(session: Session, user: User, now: datetime) -> Booking | None:
    """The booking of ``user`` under way at ``now``: their jobs go first on its machine."""
    return session.exec(
        select(Booking)
        .where(Booking.member_id == user.id)
        .where(col(Booking.cancelled_at).is_(None))
        .where(col(Booking.no_show_at).is_(None))
        .where(Booking.starts_at <= now)
        .where(Booking.ends_at > now)
    ).first()


@dataclass(frozen=True)
class QueueRow:
    """One waiting or running job as a member sees the queue: their own by name, the
    others only as "someone's job" (what, not whose)."""

    job_id: int | None
    """Only for the viewer's own jobs (others' ids are not to be probed)."""
    title: str | None
    state: JobState
    machine: str | None
    kind: MachineKind
    duration_s: float | None
    progress: float | None
    mine: bool


_QUEUE_COLUMNS = (
    "id",
    "title",
    "state",
    "machine",
    "target_machine",
    "kind",
    "owner_id",
    "progress",
    "eta_s",
)


def queue(session: Session, user: User, limit: int = 50) -> list[QueueRow]:
    """Running jobs first, then the waiting ones in the order the queue takes them."""
    shown = [*ACTIVE_STATES, JobState.queued]
    table = Job.__table__.c  # type: ignore[attr-defined]
    query = (
        sa_select(*(table[name] for name in _QUEUE_COLUMNS))
        .where(table.state.in_([s.value for s in shown]))
        .order_by(table.priority.desc(), table.id)
        .limit(limit)
    )
    rows = session.execute(query).all()
    out = []
    for job_id, title, state, machine, target, kind, owner_id, progress, eta_s in rows:
        mine = owner_id == user.id
        out.append(
            QueueRow(
                job_id=job_id if mine else None,
                title=title if mine else None,
                state=JobState(state),
                machine=machine or target,
                kind=MachineKind(kind),
                duration_s=eta_s,
                progress=progress,
                mine=mine,
            )
        )
    out.sort(key=lambda r: r.state not in ACTIVE_STATES)
    return out


def renew_calendar(session: Session, user: User, at: datetime) -> str:
    """A new personal feed token for ``user``; their earlier ones stop working (a token is
    shown once, so a member who lost it asks for a new one)."""
    assert user.id is not None
    for row in session.exec(
        select(CalendarToken)
        .where(CalendarToken.member_id == user.id)
        .where(col(CalendarToken.revoked_at).is_(None))
    ).all():
        assert row.id is not None
        calendars.revoke_token(session, row.id, user, at)
    _row, token = calendars.create_token(session, user, machine=None, member_id=user.id, at=at)
    return token


__all__ = [
    "Day",
    "MachineRight",
    "QueueRow",
    "SessionOffer",
    "current_booking",
    "lengths",
    "queue",
    "renew_calendar",
    "rights",
    "upcoming_bookings",
    "upcoming_sessions",
    "week",
]
