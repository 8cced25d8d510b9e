"""Trainings, sessions, enrolment, validation, and the authorisations they grant.

``usage_problem`` is the one answer to "may this person use this machine at this time?":
bookings, job submission, the API, the CLI and the pages all ask it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from fabqueue.models import (
    Authorisation,
    Booking,
    Enrolment,
    Job,
    MachineRecord,
    Role,
    Training,
    TrainingSession,
    User,
)
from fabqueue.models.trainings import SessionCreate, TrainingCreate
from fabqueue.services import french
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound
from jobs.base import MachineKind


def add_months(at: datetime, months: int) -> datetime:
    """Same day ``months`` later (the month's last day when it is shorter)."""
    total = at.month - 1 + months
    year, month = at.year + total // 12, total % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return at.replace(year=year, month=month, day=min(at.day, last))


def actor(user: User) -> str:
    return f"user:{user.id}"


def _staff(user: User) -> None:
    if not user.is_staff:
        raise Forbidden("réservé à l'équipe (animateur ou administrateur)")


def _known_kind(kind: str) -> None:
    if kind not in {k.value for k in MachineKind}:
        raise Invalid(f"no machine kind {kind!r}; known: {', '.join(k.value for k in MachineKind)}")


# --- trainings and sessions --------------------------------------------------------------


def create_training(session: Session, data: TrainingCreate, by: User, at: datetime) -> Training:
    _staff(by)
    name = data.name.strip()
    if not name:
        raise Invalid("a training needs a name")
    if not data.machines and not data.kinds:
        raise Invalid("a training must unlock at least one machine or machine kind")
    for kind in data.kinds:
        _known_kind(kind)
    for slug in data.machines:
        if session.get(MachineRecord, slug) is None:
            raise NotFound(f"no machine {slug!r}")
    if session.exec(select(Training).where(Training.name == name)).first():
        raise Conflict(f"there is already a training called {name!r}")
    for months in (data.validity_months, data.unused_months):
        if months is not None and months < 1:
            raise Invalid("months must be 1 or more")
    training = Training(
        name=name,
        machines=list(data.machines),
        kinds=list(data.kinds),
        validity_months=data.validity_months,
        unused_months=data.unused_months,
        created_at=at,
    )
    session.add(training)
    session.commit()
    return training


def get_training(session: Session, training_id: int) -> Training:
    training = session.get(Training, training_id)
    if training is None:
        raise NotFound(f"no training {training_id}")
    return training


def create_session(
    session: Session, training_id: int, data: SessionCreate, by: User, at: datetime
) -> TrainingSession:
    _staff(by)
    get_training(session, training_id)
    if data.starts_at.tzinfo is None or data.ends_at.tzinfo is None:
        raise Invalid("times need a time zone")
    if data.ends_at <= data.starts_at:
        raise Invalid("the session ends before it starts")
    if data.places < 1:
        raise Invalid("a session needs at least one place")
    facilitator_id = data.facilitator_id or by.id
    facilitator = session.get(User, facilitator_id)
    if facilitator is None or not facilitator.is_staff:
        raise Invalid("the facilitator must be a member of staff")
    assert facilitator_id is not None
    ts = TrainingSession(
        training_id=training_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        places=data.places,
        facilitator_id=facilitator_id,
        created_at=at,
    )
    session.add(ts)
    session.commit()
    return ts


def enrolments(session: Session, session_id: int) -> list[Enrolment]:
    return list(
        session.exec(
            select(Enrolment).where(Enrolment.session_id == session_id).order_by(col(Enrolment.id))
        )
    )


def enrol(session: Session, session_id: int, member_id: int, by: User, at: datetime) -> Enrolment:
    """A member enrols themself, or staff enrol them; a full session says so."""
    ts = session.get(TrainingSession, session_id)
    if ts is None:
        raise NotFound(f"no training session {session_id}")
    if member_id != by.id:
        _staff(by)
    if session.get(User, member_id) is None:
        raise NotFound(f"no user {member_id}")
    if ts.ends_at <= at and not by.is_staff:
        raise Conflict("cette session de formation est terminée")
    taken = session.exec(
        select(func.count()).select_from(Enrolment).where(Enrolment.session_id == session_id)
    ).one()
    if session.exec(
        select(Enrolment).where(
            Enrolment.session_id == session_id, Enrolment.member_id == member_id
        )
    ).first():
        raise Conflict("déjà inscrit à cette session")
    if taken >= ts.places:
        raise Conflict(f"cette session est complète ({ts.places} places)")
    assert by.id is not None
    e = Enrolment(session_id=session_id, member_id=member_id, enrolled_at=at, enrolled_by=by.id)
    session.add(e)
    session.commit()
    return e


def validate(
    session: Session, session_id: int, member_ids: list[int], by: User, at: datetime
) -> list[Authorisation]:
    """Staff confirm who attended: each is granted the training's authorisations."""
    _staff(by)
    ts = session.get(TrainingSession, session_id)
    if ts is None:
        raise NotFound(f"no training session {session_id}")
    if at < ts.starts_at:
        raise Conflict("the session has not started yet")
    training = get_training(session, ts.training_id)
    by_member = {e.member_id: e for e in enrolments(session, session_id)}
    missing = [m for m in member_ids if m not in by_member]
    if missing:
        raise Invalid(f"not enrolled in this session: {missing}")
    granted: list[Authorisation] = []
    for member_id in member_ids:
        e = by_member[member_id]
        if e.validated_at is not None:
            continue
        auths = _grant_training(session, training, member_id, by, at)
        e.validated_at, e.validated_by, e.authorisation_id = at, by.id, auths[0].id
        session.add(e)
        granted.extend(auths)
    session.commit()
    return granted


def _grant_training(
    session: Session, training: Training, member_id: int, by: User, at: datetime
) -> list[Authorisation]:
    expires = add_months(at, training.validity_months) if training.validity_months else None
    targets = [(m, None) for m in training.machines] + [(None, k) for k in training.kinds]
    out = []
    for machine, kind in targets:
        out.append(
            _new_authorisation(
                session,
                member_id=member_id,
                machine=machine,
                kind=kind,
                label=training.name,
                training_id=training.id,
                by=by,
                at=at,
                expires_at=expires,
                unused_months=training.unused_months,
                reason=f"formation « {training.name} » validée",
            )
        )
    return out


# --- authorisations --------------------------------------------------------------------


def _new_authorisation(
    session: Session,
    *,
    member_id: int,
    machine: str | None,
    kind: str | None,
    label: str,
    training_id: int | None,
    by: User,
    at: datetime,
    expires_at: datetime | None,
    unused_months: int | None,
    reason: str | None,
) -> Authorisation:
    assert by.id is not None
    auth = Authorisation(
        member_id=member_id,
        machine=machine,
        kind=kind,
        label=label[:120],
        training_id=training_id,
        granted_by=by.id,
        granted_at=at,
        expires_at=expires_at,
        unused_months=unused_months,
        reason=reason,
    )
    session.add(auth)
    session.flush()
    return auth


def grant(
    session: Session,
    *,
    member_id: int,
    machine: str,
    by: User,
    at: datetime,
    expires_at: datetime | None = None,
    unused_months: int | None = None,
    reason: str | None = None,
) -> Authorisation:
    """Staff authorise a member directly (trained elsewhere, say). ``machine`` is a slug
    or a machine kind."""
    _staff(by)
    member = session.get(User, member_id)
    if member is None:
        raise NotFound(f"no user {member_id}")
    record = session.get(MachineRecord, machine)
    if record is None:
        _known_kind(machine)
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= at):
        raise Invalid("expires_at must be a future time with a time zone")
    auth = _new_authorisation(
        session,
        member_id=member_id,
        machine=record.slug if record else None,
        kind=None if record else machine,
        label=record.name if record else machine,
        training_id=None,
        by=by,
        at=at,
        expires_at=expires_at,
        unused_months=unused_months,
        reason=reason or "habilitation accordée directement",
    )
    session.commit()
    return auth


def revoke(
    session: Session,
    auth_id: int,
    reason: str,
    by: User,
    at: datetime,
    *,
    member_id: int | None = None,
) -> Authorisation:
    _staff(by)
    auth = session.get(Authorisation, auth_id)
    if auth is None or (member_id is not None and auth.member_id != member_id):
        raise NotFound(
            f"no authorisation {auth_id}" + (f" for user {member_id}" if member_id else "")
        )
    if auth.revoked_at is not None:
        raise Conflict(f"authorisation {auth_id} is already revoked")
    if not reason.strip():
        raise Invalid("say why the authorisation is revoked")
    auth.revoked_at, auth.revoked_by, auth.reason = at, by.id, reason.strip()[:500]
    session.add(auth)
    session.commit()
    return auth


def authorisations(session: Session, member_id: int) -> list[Authorisation]:
    return list(
        session.exec(
            select(Authorisation)
            .where(Authorisation.member_id == member_id)
            .order_by(col(Authorisation.granted_at).desc(), col(Authorisation.id).desc())
        )
    )


def _last_use(session: Session, auth: Authorisation, machines: list[str]) -> datetime:
    """The member's latest booking start or job on the authorisation's machines."""
    booked = session.exec(
        select(func.max(Booking.starts_at)).where(
            Booking.member_id == auth.member_id,
            col(Booking.machine).in_(machines),
            col(Booking.cancelled_at).is_(None),
            col(Booking.no_show_at).is_(None),
        )
    ).one()
    ran = session.exec(
        select(func.max(Job.created_at)).where(
            Job.owner_id == auth.member_id,
            col(Job.machine).in_(machines) | col(Job.target_machine).in_(machines),
        )
    ).one()
    found = [d for d in (booked, ran) if d is not None]
    last = max([auth.granted_at, *(_aware(d) for d in found)])
    return last


def _aware(d: datetime) -> datetime:
    # Aggregates skip the column type on SQLite and come back naive: they are UTC.
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def _machines_of(session: Session, auth: Authorisation) -> list[str]:
    if auth.machine is not None:
        return [auth.machine]
    return list(session.exec(select(MachineRecord.slug).where(MachineRecord.kind == auth.kind)))


def problem_with(session: Session, auth: Authorisation, at: datetime, tz: ZoneInfo) -> str | None:
    """Why ``auth`` does not allow use at ``at`` (in French), or None."""
    name = f"votre habilitation « {auth.label} »"
    if auth.revoked_at is not None and auth.revoked_at <= at:
        return f"{name} a été retirée le {french.day(auth.revoked_at, tz)} ({auth.reason})"
    if auth.expires_at is not None and auth.expires_at <= at:
        return f"{name} a expiré le {french.day(auth.expires_at, tz)}"
    if auth.unused_months:
        last = _last_use(session, auth, _machines_of(session, auth))
        lapse = add_months(last, auth.unused_months)
        if lapse <= at:
            return (
                f"{name} a expiré le {french.day(lapse, tz)}, faute d'utilisation "
                f"pendant {auth.unused_months} mois"
            )
    return None


@dataclass(frozen=True)
class MachineRef:
    slug: str
    kind: str
    name: str


def machine_ref(session: Session, slug: str) -> MachineRef:
    record = session.get(MachineRecord, slug)
    if record is None:
        raise NotFound(f"aucune machine « {slug} »")
    return MachineRef(record.slug, record.kind.value, record.name)


def usage_problem(
    session: Session, user: User, machine: MachineRef, at: datetime, tz: ZoneInfo
) -> str | None:
    """Why ``user`` may not use ``machine`` at ``at`` (in French), or None when they may.

    Staff may use everything; a member needs an authorisation for the machine or its
    kind that is neither revoked, expired, nor lapsed for want of use.
    """
    if user.is_staff:
        return None
    if user.role != Role.member or not user.active:
        return "seuls les membres formés peuvent utiliser les machines en autonomie"
    assert user.id is not None
    matching = [
        a
        for a in authorisations(session, user.id)
        if a.machine == machine.slug or (a.machine is None and a.kind == machine.kind)
    ]
    if not matching:
        return (
            f"vous n'avez pas d'habilitation pour « {machine.name} » : "
            "inscrivez-vous à une formation"
        )
    problems = [problem_with(session, a, at, tz) for a in matching]
    if any(p is None for p in problems):
        return None
    first = problems[0]
    assert first is not None
    return first


def ensure_may_use(
    session: Session, user: User, machine: MachineRef, at: datetime, tz: ZoneInfo
) -> None:
    problem = usage_problem(session, user, machine, at, tz)
    if problem is not None:
        raise Forbidden(problem, rule="authorisation")
