"""Narrow rows read from the database for one period: the only SQL of the reports.

Every other module of the package works on these rows, so a figure can be checked with
a table of numbers and the same rows give the same report on SQLite and PostgreSQL.
Names are never read: people are ids and roles, so reports can only count them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, true, type_coerce
from sqlalchemy import select as columns
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session, col, select

from fabqueue.models import (
    Authorisation,
    Booking,
    Enrolment,
    Job,
    JobActual,
    JobEvent,
    Quote,
    TrainingSession,
    User,
)
from fabqueue.models.types import UTCDateTime
from fabqueue.reports.period import Period
from fabqueue.states import JobState

BAD_REASON = "operator: bad"
"""How the operator's « bad » judgement is recorded (``services.machines._judge``)."""
CLOSED = (JobState.succeeded, JobState.failed, JobState.cancelled)


@dataclass(slots=True)
class Quantities:
    """What one run of a job asks for, from its analysis (all copies)."""

    duration_s: float | None = None
    heatup_s: float = 0.0
    homing_s: float = 0.0
    filament_g: float = 0.0
    vinyl_mm2: float = 0.0
    design_mm2: float | None = None
    """Area of the design itself (weeding offcut = vinyl used − this), when known."""
    thread_m: float = 0.0
    purge_g: float | None = None


@dataclass(slots=True)
class JobRow:
    id: int
    kind: str
    machine: str | None
    material: str | None
    state: str
    owner_id: int
    owner_role: str
    closed_at: datetime
    q: Quantities
    progress: float | None = None
    actual_s: float | None = None
    """Machine time of the last run: the operator's entry, else the runner's."""


@dataclass(slots=True)
class RedoRow:
    """A run the operator judged bad: the part was spoilt and the job ran again."""

    job_id: int
    kind: str
    machine: str | None
    material: str | None
    at: datetime
    q: Quantities


@dataclass(frozen=True)
class BookingRow:
    member_id: int
    machine: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    created_by: int
    cancelled: bool
    no_show: bool


@dataclass(frozen=True)
class QuoteRow:
    organisation_id: int
    total_ht_cents: int
    sent_at: datetime | None
    accepted_at: datetime | None
    converted_at: datetime | None


@dataclass(frozen=True)
class TrainingRows:
    sessions: list[datetime] = field(default_factory=list)
    validated: list[tuple[int, datetime]] = field(default_factory=list)
    """(member id, validated at) of enrolments validated in the period."""
    granted: list[datetime] = field(default_factory=list)


@dataclass(frozen=True)
class Rows:
    jobs: list[JobRow]
    redos: list[RedoRow]
    bookings: list[BookingRow]
    quotes: list[QuoteRow]
    trainings: TrainingRows


PATHS = (
    ("duration_s",),
    ("details", "heatup_s"),
    ("details", "homing_s"),
    ("material", "filament_g"),
    ("material", "vinyl_area_mm2"),
    ("details", "design_area_mm2"),
    ("material", "thread_m"),
    ("details", "purge_g"),
)
"""The analysis figures a report reads, extracted by the database: decoding each job's
whole analysis in Python took most of a yearly report's time."""


def figures(analysis: Any) -> list[Any]:
    """``PATHS`` as columns (JSON path and cast: SQLite and PostgreSQL alike)."""
    return [analysis[path].as_float() for path in PATHS]


def _analysis(session: Session) -> tuple[Any, Any]:
    """The analysis to take ``figures`` from, and what to join for it (or None).

    PostgreSQL stores it as ``json`` (text): each path on it parses the whole text
    again, eight times a row (5 s of a yearly report). It is parsed once a row into
    ``jsonb`` instead, in a lateral subquery that OFFSET 0 keeps the planner from
    inlining (inlined, the cast would be copied into every path). SQLite parses
    quickly and keeps the plain paths."""
    if session.get_bind().dialect.name != "postgresql":
        return col(Job.analysis), None
    inner = select(cast(col(Job.analysis), JSONB).label("a")).correlate(Job).offset(0)
    parsed = inner.lateral("parsed")
    return parsed.c.a, parsed


def _text(column: Any) -> Any:
    """An enum column as its plain value: no enum member made per row, then undone."""
    return type_coerce(col(column), String)


def _joined(query: Any, parsed: Any) -> Any:
    return query if parsed is None else query.join(parsed, true())


def quantities(values: Sequence[Any], copies: int) -> Quantities:
    """A run's quantities from the ``PATHS`` values of its analysis, scaled to its copies."""
    # A negative or missing figure is unknown, not a negative quantity.
    duration, heatup, homing, filament, vinyl, design, thread, purge = [
        None if v is None or v < 0 else float(v) for v in values
    ]
    n = max(copies, 1)
    return Quantities(
        duration_s=duration * n if duration is not None else None,
        heatup_s=heatup or 0.0,
        homing_s=homing or 0.0,
        filament_g=(filament or 0.0) * n,
        vinyl_mm2=(vinyl or 0.0) * n,
        design_mm2=design * n if design is not None else None,
        thread_m=(thread or 0.0) * n,
        purge_g=purge * n if purge is not None else None,
    )


def from_analysis(analysis: dict[str, Any], copies: int = 1) -> Quantities:
    """The same, from an analysis as stored (tests, callers holding a job)."""
    values: list[Any] = []
    for path in PATHS:
        node: Any = analysis
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        values.append(node)
    return quantities(values, copies)


def _in(column: Any, period: Period) -> Any:
    return and_(column >= period.start, column < period.end)


def _machine_filter(query: Any, column: Any, machines: Sequence[str] | None) -> Any:
    return query if machines is None else query.where(col(column).in_(list(machines)))


def load(session: Session, period: Period, machines: Sequence[str] | None = None) -> Rows:
    """Everything the reports of ``period`` need; ``machines`` narrows to one café's."""
    return Rows(
        jobs=load_jobs(session, period, machines),
        redos=load_redos(session, period, machines),
        bookings=load_bookings(session, period, machines),
        quotes=load_quotes(session, period),
        trainings=load_trainings(session, period),
    )


def load_jobs(session: Session, period: Period, machines: Sequence[str] | None) -> list[JobRow]:
    closed = [s.value for s in CLOSED]
    analysis, parsed = _analysis(session)
    query = (
        columns(
            col(Job.id),
            _text(Job.kind),
            col(Job.machine),
            col(Job.material),
            _text(Job.state),
            col(Job.copies),
            col(Job.owner_id),
            _text(User.role),
            col(Job.progress),
            col(Job.actual_duration_s),
            col(JobActual.duration_s),
            type_coerce(func.coalesce(col(Job.finished_at), col(Job.updated_at)), UTCDateTime),
            *figures(analysis),
        )
        .join(User, col(User.id) == col(Job.owner_id))
        .outerjoin(JobActual, col(JobActual.job_id) == col(Job.id))
        .where(col(Job.state).in_(closed))
        .where(
            or_(
                _in(col(Job.finished_at), period),
                and_(col(Job.finished_at).is_(None), _in(col(Job.updated_at), period)),
            )
        )
    )
    query = _machine_filter(_joined(query, parsed), Job.machine, machines)
    out: list[JobRow] = []
    for r in session.connection().execute(query).all():
        (jid, kind, machine, material, state, copies, owner, role, progress) = r[:9]
        runner_s, operator_s, closed_at = r[9:12]
        out.append(
            JobRow(
                id=jid,
                kind=kind,
                machine=machine,
                material=material,
                state=state,
                owner_id=owner,
                owner_role=role,
                closed_at=closed_at,
                q=quantities(r[12:], copies),
                progress=progress,
                actual_s=operator_s or runner_s,
            )
        )
    return out


def load_redos(session: Session, period: Period, machines: Sequence[str] | None) -> list[RedoRow]:
    analysis, parsed = _analysis(session)
    query = (
        columns(
            col(JobEvent.job_id),
            col(JobEvent.at),
            col(Job.kind),
            col(Job.material),
            col(Job.copies),
            *figures(analysis),
        )
        .join(Job, col(Job.id) == col(JobEvent.job_id))
        .where(col(JobEvent.to_state) == JobState.queued)
        .where(col(JobEvent.reason).startswith(BAD_REASON))
        .where(_in(col(JobEvent.at), period))
    )
    bad = session.connection().execute(_joined(query, parsed)).all()
    claims = _claims(session, {job_id for job_id, *_ in bad})
    out: list[RedoRow] = []
    for job_id, at, kind, material, copies, *values in bad:
        machine = _machine_at(claims.get(job_id, []), at)
        if machines is not None and machine not in machines:
            continue
        out.append(RedoRow(job_id, str(kind), machine, material, at, quantities(values, copies)))
    return out


def _claims(session: Session, job_ids: Iterable[int]) -> dict[int, list[tuple[datetime, str]]]:
    """Each job's claims by a machine, oldest first: which machine ran which attempt."""
    ids = sorted(job_ids)
    out: dict[int, list[tuple[datetime, str]]] = {}
    for i in range(0, len(ids), 5000):
        rows = session.connection().execute(
            columns(col(JobEvent.job_id), col(JobEvent.at), col(JobEvent.actor))
            .where(col(JobEvent.job_id).in_(ids[i : i + 5000]))
            .where(col(JobEvent.to_state) == JobState.starting)
            .order_by(col(JobEvent.at), col(JobEvent.id))
        )
        for job_id, at, actor in rows:
            out.setdefault(job_id, []).append((at, actor.removeprefix("machine:")))
    return out


def _machine_at(claims: list[tuple[datetime, str]], at: datetime) -> str | None:
    machine = None
    for claimed_at, slug in claims:
        if claimed_at <= at:
            machine = slug
    return machine


def load_bookings(
    session: Session, period: Period, machines: Sequence[str] | None
) -> list[BookingRow]:
    query = columns(
        col(Booking.member_id),
        col(Booking.machine),
        col(Booking.starts_at),
        col(Booking.ends_at),
        col(Booking.created_at),
        col(Booking.created_by),
        col(Booking.cancelled_at).is_not(None),
        col(Booking.no_show_at).is_not(None),
    ).where(or_(_in(col(Booking.starts_at), period), _in(col(Booking.created_at), period)))
    query = _machine_filter(query, Booking.machine, machines)
    # Plain rows, not ORM objects: a year holds thousands of bookings.
    return [
        BookingRow(member, machine, starts, ends, created, by, bool(cancelled), bool(no_show))
        for member, machine, starts, ends, created, by, cancelled, no_show in (
            session.connection().execute(query).all()
        )
    ]


def load_quotes(session: Session, period: Period) -> list[QuoteRow]:
    query = columns(
        col(Quote.organisation_id),
        col(Quote.total_ht_cents),
        col(Quote.sent_at),
        col(Quote.accepted_at),
        col(Quote.converted_at),
    ).where(
        or_(
            _in(col(Quote.sent_at), period),
            _in(col(Quote.accepted_at), period),
            _in(col(Quote.converted_at), period),
        )
    )
    return [
        QuoteRow(org, ht or 0, sent, acc, conv)
        for org, ht, sent, acc, conv in session.connection().execute(query)
    ]


def load_trainings(session: Session, period: Period) -> TrainingRows:
    sessions = session.exec(
        select(TrainingSession.starts_at).where(_in(col(TrainingSession.starts_at), period))
    ).all()
    validated = session.exec(
        select(Enrolment.member_id, Enrolment.validated_at).where(
            _in(col(Enrolment.validated_at), period)
        )
    ).all()
    granted = session.exec(
        select(Authorisation.granted_at).where(_in(col(Authorisation.granted_at), period))
    ).all()
    return TrainingRows(
        sessions=list(sessions),
        validated=[(m, at) for m, at in validated if at is not None],
        granted=list(granted),
    )
