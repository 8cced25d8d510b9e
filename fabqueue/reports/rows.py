"""Narrow rows read from the database for one period: the only SQL of the reports.

A report reads :func:`load_sums`: the runs added up by the database per machine, kind,
material, result and month (:class:`RunGroup`, from the jobs' plain ``run_*`` columns),
the bookings, quotes and trainings as rows. :func:`load` reads the runs one by one
(:class:`JobRow`, :class:`RedoRow`): ``groups.of_rows`` adds those up the same way, so
every figure can be checked on a table of numbers, and the two ways against each other.
Names are never read: people are ids and roles, so reports can only count them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    type_coerce,
)
from sqlalchemy import select as columns
from sqlalchemy.orm import aliased
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
from fabqueue.reports.figures import COLUMNS, Quantities
from fabqueue.reports.period import Period
from fabqueue.services.estimates import RATIO_RANGE
from fabqueue.states import JobState

BAD_REASON = "operator: bad"
"""How the operator's « bad » judgement is recorded (``services.machines._judge``)."""
CLOSED = (JobState.succeeded, JobState.failed, JobState.cancelled)


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


@dataclass(slots=True)
class RunGroup:
    kind: str
    machine: str | None
    material: str | None
    result: str
    """``succeeded``, ``failed`` or ``cancelled`` (the job closed so), or ``redone`` (the
    operator judged the run bad and it ran again)."""
    month: str | None
    """``YYYY-MM`` of the café's calendar, or None when not asked."""
    runs: int = 0
    seconds: int = 0
    """Machine time: each run's seconds rounded (half to even), then added."""
    run_s: float = 0.0
    heat_s: float = 0.0
    """Of ``run_s``, the heat-up part (each run's heat-up, at most its time)."""
    filament_g: float = 0.0
    filament_runs: int = 0
    vinyl_m2: float = 0.0
    vinyl_runs: int = 0
    thread_m: float = 0.0
    thread_runs: int = 0
    purge_g: float = 0.0
    purge_runs: int = 0
    """Succeeded runs using filament whose analysis measured the purge line."""
    offcut_m2: float = 0.0
    offcut_runs: int = 0
    """Succeeded runs cutting vinyl whose analysis knew the design's area."""

    @property
    def key(self) -> tuple[str, str | None, str | None, str, str | None]:
        return (self.kind, self.machine, self.material, self.result, self.month)

    def add(self, other: RunGroup) -> None:
        for f in fields(self)[5:]:
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class Sums:
    """A period as the database adds it up: what a report is made from."""

    groups: list[RunGroup]
    owners: list[tuple[int, str]]
    """(account id, role) of everyone with a job closed in the period."""
    ratios: dict[str, list[float]]
    """Per machine, actual / estimated time of its succeeded runs (``load_ratios``), in
    no order."""
    bookings: list[BookingRow]
    quotes: list[QuoteRow]
    trainings: TrainingRows


def load_sums(session: Session, period: Period, machines: Sequence[str] | None = None) -> Sums:
    """Everything the reports of ``period`` need; ``machines`` narrows to one café's."""
    return Sums(
        groups=load_groups(session, period, machines),
        owners=load_owners(session, period, machines),
        ratios=load_ratios(session, period, machines),
        bookings=load_bookings(session, period, machines),
        quotes=load_quotes(session, period),
        trainings=load_trainings(session, period),
    )


def _in(column: Any, period: Period) -> Any:
    return and_(column >= period.start, column < period.end)


def _machine_filter(query: Any, column: Any, machines: Sequence[str] | None) -> Any:
    return query if machines is None else query.where(col(column).in_(list(machines)))


def _text(column: Any) -> Any:
    """An enum column as its plain value: no enum member made per row, then undone."""
    return type_coerce(col(column), String)


def _float(value: float) -> Any:
    return literal(value, Float())


def _closed_in(query: Any, period: Period, machines: Sequence[str] | None) -> Any:
    """``query`` narrowed to the jobs that closed in ``period`` (on ``machines``)."""
    query = query.where(col(Job.state).in_([s.value for s in CLOSED])).where(
        or_(
            _in(col(Job.finished_at), period),
            and_(col(Job.finished_at).is_(None), _in(col(Job.updated_at), period)),
        )
    )
    return _machine_filter(query, Job.machine, machines)


def _closed_at() -> Any:
    return type_coerce(func.coalesce(col(Job.finished_at), col(Job.updated_at)), UTCDateTime)


def _actual() -> Any:
    """The run's measured time: the operator's entry, else the runner's."""
    entered = col(JobActual.duration_s)
    return case(
        (and_(entered.is_not(None), entered != 0), entered), else_=col(Job.actual_duration_s)
    )


def _figures() -> list[Any]:
    return [getattr(Job, name) for name in COLUMNS]


def stored(values: Sequence[Any]) -> Quantities:
    """A run's quantities from its ``run_*`` columns (already for all copies)."""
    duration, heatup, homing, filament, vinyl, design, thread, purge = values
    return Quantities(
        duration,
        heatup or 0.0,
        homing or 0.0,
        filament or 0.0,
        vinyl or 0.0,
        design,
        thread or 0.0,
        purge,
    )


def load(session: Session, period: Period, machines: Sequence[str] | None = None) -> Rows:
    """Everything the reports of ``period`` need, row by row; ``machines`` narrows to
    one café's. (A report reads :func:`load_sums`: the same, added up by the database.)"""
    return Rows(
        jobs=load_jobs(session, period, machines),
        redos=load_redos(session, period, machines),
        bookings=load_bookings(session, period, machines),
        quotes=load_quotes(session, period),
        trainings=load_trainings(session, period),
    )


def load_jobs(session: Session, period: Period, machines: Sequence[str] | None) -> list[JobRow]:
    query = (
        columns(
            col(Job.id),
            _text(Job.kind),
            col(Job.machine),
            col(Job.material),
            _text(Job.state),
            col(Job.owner_id),
            _text(User.role),
            col(Job.progress),
            _actual(),
            _closed_at(),
            *_figures(),
        )
        .join(User, col(User.id) == col(Job.owner_id))
        .outerjoin(JobActual, col(JobActual.job_id) == col(Job.id))
    )
    out: list[JobRow] = []
    for r in session.connection().execute(_closed_in(query, period, machines)):
        jid, kind, machine, material, state, owner, role, progress, actual, closed_at = r[:10]
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
                q=stored(r[10:]),
                progress=progress,
                actual_s=actual,
            )
        )
    return out


def _redo_machine() -> Any:
    """The machine of a « bad » run: whose claim (``machine:<slug>``) came last before
    the judgement, as ``machine:<slug>``."""
    claim = aliased(JobEvent)
    return (
        columns(col(claim.actor))
        .where(col(claim.job_id) == col(JobEvent.job_id))
        .where(col(claim.to_state) == JobState.starting)
        .where(col(claim.at) <= col(JobEvent.at))
        .order_by(col(claim.at).desc(), col(claim.id).desc())
        .limit(1)
        .correlate(JobEvent)
        .scalar_subquery()
    )


def _bad_runs(query: Any, period: Period) -> Any:
    return (
        query.select_from(JobEvent)
        .join(Job, col(Job.id) == col(JobEvent.job_id))
        .where(col(JobEvent.to_state) == JobState.queued)
        .where(col(JobEvent.reason).startswith(BAD_REASON))
        .where(_in(col(JobEvent.at), period))
    )


def _slug(actor: str | None) -> str | None:
    return None if actor is None else actor.removeprefix("machine:")


def load_redos(session: Session, period: Period, machines: Sequence[str] | None) -> list[RedoRow]:
    query = columns(
        col(JobEvent.job_id),
        _text(Job.kind),
        _redo_machine(),
        col(Job.material),
        col(JobEvent.at),
        *_figures(),
    )
    out: list[RedoRow] = []
    for job_id, kind, actor, material, at, *figures in session.connection().execute(
        _bad_runs(query, period)
    ):
        machine = _slug(actor)
        if machines is None or machine in machines:
            out.append(RedoRow(job_id, kind, machine, material, at, stored(figures)))
    return out


def _month(at: Any, period: Period) -> Any:
    """The index, in ``period.months()``, of the month ``at`` falls in."""
    months = period.months()
    if len(months) == 1:
        return literal(0, Integer())
    return case(*[(at < m.end, i) for i, m in enumerate(months[:-1])], else_=len(months) - 1)


def _half_even(seconds: Any, dialect: str) -> Any:
    """Python's ``round()`` (half to even) of a number of seconds, never negative."""
    if dialect == "postgresql":
        return cast(seconds, BigInteger)  # float8 to int8 rounds half to even (rint)
    whole = cast(seconds, Integer)  # SQLite truncates: a positive number's floor
    rest = seconds - whole
    return case(
        (rest > 0.5, whole + 1), (rest < 0.5, whole), (whole % 2 == 0, whole), else_=whole + 1
    )


def _job_runs(period: Period, machines: Sequence[str] | None) -> Any:
    """One row per job closed in the period: its group's key, time and material share."""
    state = _text(Job.state)
    estimate = func.coalesce(col(Job.run_duration_s), _float(0.0))
    progress = col(Job.progress)
    clamped = case((progress < 0, _float(0.0)), (progress > 1, _float(1.0)), else_=progress)
    failed_part = and_(state == "failed", progress.is_not(None))
    actual = _actual()
    seconds = case(
        (actual > 0, actual),
        (failed_part, estimate * clamped),
        (state.in_(("succeeded", "failed")), estimate),
        else_=_float(0.0),
    )
    query = columns(
        _text(Job.kind).label("kind"),
        col(Job.machine).label("machine"),
        col(Job.material).label("material"),
        state.label("result"),
        _month(_closed_at(), period).label("month"),
        seconds.label("seconds"),
        case((failed_part, clamped), else_=_float(1.0)).label("frac"),
        *_figures(),
    ).outerjoin(JobActual, col(JobActual.job_id) == col(Job.id))
    return _closed_in(query, period, machines).subquery()


def _redo_runs(period: Period) -> Any:
    """One row per « bad » run of the period, its machine as the claim's actor."""
    query = columns(
        _text(Job.kind).label("kind"),
        _redo_machine().label("machine"),
        col(Job.material).label("material"),
        literal("redone", String()).label("result"),
        _month(col(JobEvent.at), period).label("month"),
        func.coalesce(col(Job.run_duration_s), _float(0.0)).label("seconds"),
        _float(1.0).label("frac"),
        *_figures(),
    )
    return _bad_runs(query, period).subquery()


def _summed(runs: Any, dialect: str) -> Any:
    """``runs`` added up by group: the sums of :class:`RunGroup`, in its field order."""
    r = runs.c
    heatup = func.coalesce(r.run_heatup_s, _float(0.0))
    filament = func.coalesce(r.run_filament_g, _float(0.0))
    vinyl = func.coalesce(r.run_vinyl_mm2, _float(0.0))
    thread = func.coalesce(r.run_thread_m, _float(0.0))
    succeeded = r.result == "succeeded"
    purge = case((and_(succeeded, filament > 0, r.run_purge_g.is_not(None)), r.run_purge_g))
    offcut = case(
        (
            and_(succeeded, r.run_design_mm2.is_not(None), vinyl > 0),
            case((vinyl - r.run_design_mm2 > 0, vinyl - r.run_design_mm2), else_=_float(0.0)) / 1e6,
        )
    )
    key = (r.kind, r.machine, r.material, r.result, r.month)
    return columns(
        *key,
        func.count(),
        func.sum(_half_even(r.seconds, dialect)),
        func.sum(r.seconds),
        func.sum(case((heatup < r.seconds, heatup), else_=r.seconds)),
        func.sum(filament * r.frac),
        func.sum(case((filament > 0, 1), else_=0)),
        func.sum(vinyl / 1e6 * r.frac),
        func.sum(case((vinyl > 0, 1), else_=0)),
        func.sum(thread * r.frac),
        func.sum(case((thread > 0, 1), else_=0)),
        func.sum(purge),
        func.count(purge),
        func.sum(offcut),
        func.count(offcut),
    ).group_by(*key)


def load_groups(session: Session, period: Period, machines: Sequence[str] | None) -> list[RunGroup]:
    """The period's runs added up by the database (``groups.of_rows`` of
    :func:`load_jobs` and :func:`load_redos`, without reading them one by one)."""
    dialect = session.get_bind().dialect.name
    labels = [m.label for m in period.months()]
    # PostgreSQL adds integers up as numeric: back to the field's own type.
    kinds = [int if f.type == "int" else float for f in fields(RunGroup)[5:]]
    out: list[RunGroup] = []
    for runs in (_job_runs(period, machines), _redo_runs(period)):
        for kind, machine, material, result, month, *sums in session.connection().execute(
            _summed(runs, dialect)
        ):
            if result == "redone":
                machine = _slug(machine)
                if machines is not None and machine not in machines:
                    continue
            values: list[Any] = [t(v or 0) for t, v in zip(kinds, sums, strict=True)]
            out.append(RunGroup(kind, machine, material, result, labels[month], *values))
    return out


def load_owners(
    session: Session, period: Period, machines: Sequence[str] | None
) -> list[tuple[int, str]]:
    """(account id, role) of everyone with a job closed in the period."""
    owners = _closed_in(columns(col(Job.owner_id)), period, machines)
    query = columns(col(User.id), _text(User.role)).where(col(User.id).in_(owners))
    return [(uid, role) for uid, role in session.connection().execute(query)]


def _positive(value: Any) -> Any:
    return case((value > 0, value), else_=_float(0.0))


def load_ratios(
    session: Session, period: Period, machines: Sequence[str] | None
) -> dict[str, list[float]]:
    """Per machine, actual / estimated time of the period's succeeded runs (in no
    order): ``services.estimates.job_ratio`` worked out by the database, the same
    operations in the same order (heat-up and homing out, ratios outside the learning
    range left out), so the figures are the estimator's to the last bit."""
    actual = _actual()
    estimate = col(Job.run_duration_s)
    fixed = _positive(col(Job.run_heatup_s)) + _positive(col(Job.run_homing_s))
    ratio = (actual - fixed) / estimate
    low, high = RATIO_RANGE
    query = (
        columns(col(Job.machine), ratio)
        .outerjoin(JobActual, col(JobActual.job_id) == col(Job.id))
        .where(col(Job.state) == JobState.succeeded)
        .where(col(Job.machine).is_not(None))
        .where(actual > 0, estimate > 0, ratio >= low, ratio <= high)
    )
    out: dict[str, list[float]] = {}
    for machine, value in session.connection().execute(_closed_in(query, period, machines)):
        out.setdefault(machine, []).append(value)
    return out


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
