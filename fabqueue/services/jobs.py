"""Submitting jobs and acting on them. Writes to the database only; runners do the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import bindparam, text
from sqlmodel import Session, col, func, select

from fabqueue.db import SessionFactory, session_scope
from fabqueue.events import queue_bus_event
from fabqueue.models import Job, JobEvent, MachineRecord, Role, RunnerState, User
from fabqueue.models.types import UTCDateTime
from fabqueue.profiles import ProfileSet
from fabqueue.services.booking_rules import ensure_may_submit
from fabqueue.services.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    UnsupportedFileType,
)
from fabqueue.services.estimates import UNLEARNABLE_DRIVERS, apply_correction, correction_factor
from fabqueue.services.machines import (
    MachineCatalog,
    all_machines,
    back_to_work,
    capability,
    get_record,
    params_of,
)
from fabqueue.states import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    WAITING_STATES,
    JobState,
    record_creation,
    requeue_values,
    transition,
)
from fabqueue.storage import FileStore, UploadTooLarge
from jobs.base import Analysis, AnalysisError, FileRejected, MachineKind
from jobs.gcode.analysis import with_material
from jobs.params import MachineParams
from jobs.registry import ANALYZERS, accepted_types, analyze, file_type_of
from jobs.registry import preview as make_preview

log = logging.getLogger(__name__)

MAX_COPIES = 1000
PRIORITY_RANGE = range(-100, 101)


@dataclass(frozen=True)
class SubmitRequest:
    filename: str
    machine: str | None = None
    kind: MachineKind | None = None
    material: str | None = None
    copies: int = 1
    priority: int = 0
    hold: bool = False
    title: str | None = None


def _actor(user: User) -> str:
    return f"user:{user.id}"


def machines_for(
    machines: Sequence[MachineRecord], req: SubmitRequest, file_type: str
) -> list[MachineRecord]:
    """The machines (of ``machines``, all known) that could take the job, checked against
    what was asked."""
    spec = ANALYZERS.get(file_type)
    if spec is None:
        raise UnsupportedFileType(
            f"files of type {file_type or '(none)'!r} are not accepted; "
            f"accepted types: {', '.join(accepted_types())}",
            accepted=accepted_types(),
        )
    if req.machine is not None:
        record = next((m for m in machines if m.slug == req.machine), None)
        if record is None:
            raise NotFound(f"no machine {req.machine!r}")
        if req.kind is not None and req.kind != record.kind:
            raise Invalid(f"{req.machine} is a {record.kind.value}, not a {req.kind.value}")
        records = [record]
    else:
        kind = req.kind or spec.kind
        records = [m for m in machines if m.kind == kind]
        if not records:
            raise Invalid(f"there is no {kind.value} machine to run this job")
    if spec.kind != records[0].kind:
        raise UnsupportedFileType(
            f"a {records[0].kind.value} does not take {file_type} files; accepted: "
            f"{', '.join(accepted_types(records[0].kind))}",
            accepted=accepted_types(records[0].kind),
        )
    takers = [r for r in records if file_type in r.spec.get("file_types", [])]
    if not takers:
        types = sorted({t for r in records for t in r.spec.get("file_types", [])})
        raise UnsupportedFileType(
            f"no machine here takes {file_type} files; accepted: {', '.join(types)}",
            accepted=types,
        )
    return takers


def _check_material(profiles: ProfileSet, targets: list[MachineRecord], material: str) -> None:
    profile = profiles.materials.get(material)
    if profile is None:
        raise Invalid(f"no material {material!r}; known: {', '.join(sorted(profiles.materials))}")
    if profile.kind != targets[0].kind:
        raise Invalid(f"{material!r} is not a material for a {targets[0].kind.value}")
    if not any(not r.spec.get("materials") or material in r.spec["materials"] for r in targets):
        raise Invalid(f"no machine that could run this job takes {material!r}")


def _params(profiles: ProfileSet, record: MachineRecord) -> MachineParams:
    local = profiles.machines.get(record.slug)
    return local.params if local is not None else params_of(record)


def analyse_file(
    path: Any, file_type: str, profiles: ProfileSet, targets: list[MachineRecord]
) -> Analysis:
    params = _params(profiles, targets[0])
    try:
        analysis = analyze(path, file_type, params)
    except AnalysisError as exc:
        raise Invalid(f"cannot read this {file_type} file: {exc}") from exc
    except FileRejected as exc:
        raise Invalid(str(exc)) from exc
    problems = {r.slug: _params(profiles, r).fit_problems(analysis) for r in targets}
    if all(problems.values()):
        if len(targets) == 1:
            raise Invalid(f"does not fit {targets[0].slug}: {'; '.join(problems[targets[0].slug])}")
        detail = "; ".join(f"{slug}: {', '.join(p)}" for slug, p in problems.items())
        raise Invalid(f"does not fit any machine: {detail}")
    return analysis


def job_preview(
    *, session: Session, store: FileStore, profiles: ProfileSet, job: Job
) -> Path | None:
    """The job's picture, made the first time someone asks for it (a submission need not
    pay for a picture nobody may look at), then kept."""
    assert job.id is not None
    existing = store.preview_path(job.id)
    if existing is not None:
        return existing
    slug = job.machine or job.target_machine
    record = session.get(MachineRecord, slug) if slug else None
    if record is None:
        local = profiles.of_kind(job.kind)
        params: MachineParams | None = local[0].params if local else None
    else:
        params = _params(profiles, record)
    try:
        picture = make_preview(
            store.fetch(job.file_sha256),
            job.file_type,
            params,
            Analysis.model_validate(job.analysis),
        )
    except Exception as exc:  # a preview is a nicety: the job is fine without one
        log.warning("no preview for job %s (%s): %s", job.id, job.file_type, exc)
        return None
    if picture is None:
        return None
    return store.save_preview(job.id, picture.media_type, picture.data)


_INDEX_FILE = text(
    "INSERT INTO stored_file (sha256, size, created_at) VALUES (:sha256, :size, :created_at) "
    "ON CONFLICT (sha256) DO NOTHING"
).bindparams(bindparam("created_at", type_=UTCDateTime()))
"""Plain SQL both SQLite and PostgreSQL take; compiled once (this runs at every upload)."""


def index_file(session: Session, sha256: str, size: int, now: datetime) -> None:
    """Record the stored file once, however many jobs share it."""
    session.execute(_INDEX_FILE, {"sha256": sha256, "size": size, "created_at": now})


def _refine(
    sessions: SessionFactory,
    profiles: ProfileSet,
    request: SubmitRequest,
    targets: list[MachineRecord],
    analysis: Analysis,
) -> Analysis:
    """Grams for the chosen material; the machine's learnt time correction beside the
    raw estimate (only when the job can go to one machine only)."""
    material = profiles.materials.get(request.material) if request.material else None
    if material is not None:
        analysis = with_material(
            analysis, density_g_cm3=material.density_g_cm3, diameter_mm=material.diameter_mm
        )
    if len(targets) == 1 and targets[0].driver not in UNLEARNABLE_DRIVERS:
        with sessions() as session:
            analysis = apply_correction(analysis, correction_factor(session, targets[0].slug))
    return analysis


def submit_job(
    *,
    sessions: SessionFactory,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    owner: User,
    stream: BinaryIO,
    request: SubmitRequest,
    upload_limit: int,
    now: datetime,
    catalog: MachineCatalog | None = None,
) -> Job:
    """Validate, store, analyse and queue a job. Nothing is kept if any step refuses it."""
    if not 1 <= request.copies <= MAX_COPIES:
        raise Invalid(f"copies must be between 1 and {MAX_COPIES}")
    if request.priority not in PRIORITY_RANGE:
        raise Invalid("priority must be between -100 and 100")
    if request.priority != 0 and not owner.is_staff:
        raise Forbidden("only staff can set a priority")
    assert owner.id is not None
    file_type = file_type_of(request.filename)
    # Reads, file I/O and analysis happen outside any write transaction.
    if catalog is not None:
        known = catalog.records()
    else:
        with read_sessions() as session:
            known = all_machines(session)
    targets = machines_for(known, request, file_type)
    if owner.role == Role.member:  # a client's jobs come from a quote, made by staff
        with read_sessions() as session:
            ensure_may_submit(session, profiles, owner, targets, now)
    if request.material is not None:
        _check_material(profiles, targets, request.material)
    try:
        stored = store.save(stream, limit=upload_limit)
    except UploadTooLarge as exc:
        raise TooLarge(str(exc), limit=exc.limit) from exc
    analysis = analyse_file(stored.path, file_type, profiles, targets)
    analysis = _refine(read_sessions, profiles, request, targets, analysis)

    with session_scope(sessions) as session:
        index_file(session, stored.sha256, stored.size, now)
        job = Job(
            kind=targets[0].kind,
            target_machine=request.machine,
            material=request.material,
            copies=request.copies,
            priority=request.priority,
            owner_id=owner.id,
            title=(request.title or request.filename)[:200],
            file_sha256=stored.sha256,
            file_name=request.filename[:255],
            file_type=file_type,
            file_size=stored.size,
            analysis=analysis.model_dump(mode="json"),
            state=JobState.held if request.hold else JobState.queued,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        record_creation(session, job, actor=_actor(owner), at=now)
    return job


def get_job(session: Session, job_id: int, user: User) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if not user.is_staff and job.owner_id != user.id:
        raise Forbidden("this job is not yours")
    return job


def list_jobs(
    session: Session,
    user: User,
    *,
    states: list[JobState] | None = None,
    machine: str | None = None,
    owner_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Job], int]:
    query = select(Job)
    if not user.is_staff:
        query = query.where(Job.owner_id == user.id)
    elif owner_id is not None:
        query = query.where(Job.owner_id == owner_id)
    if states:
        query = query.where(col(Job.state).in_([s.value for s in states]))
    if machine:
        query = query.where((Job.machine == machine) | (Job.target_machine == machine))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Job.id).desc()).offset(offset).limit(limit))
    return list(rows), int(total)


def job_events(session: Session, job_id: int, user: User) -> list[JobEvent]:
    get_job(session, job_id, user)
    return list(
        session.exec(select(JobEvent).where(JobEvent.job_id == job_id).order_by(col(JobEvent.id)))
    )


def _conflict(job: Job, action: str) -> Conflict:
    return Conflict(f"cannot {action} job {job.id}: it is {job.state.value}", state=job.state.value)


def _set_flag(session: Session, job: Job, action: str, at: datetime, **flags: bool) -> None:
    """Ask the machine's runner to act (flags are desired states it converges to)."""
    for name, value in flags.items():
        setattr(job, name, value)
    job.updated_at = at
    session.add(job)
    queue_bus_event(
        session, "job:requested", {"job_id": job.id, "machine": job.machine, "action": action}
    )


@dataclass(frozen=True)
class _Act:
    """One person's request on one job, as the action handlers below see it."""

    session: Session
    job: Job
    job_id: int
    state: JobState
    action: str
    who: str
    reason: str
    at: datetime

    def move(self, to: JobState, values: dict[str, Any] | None = None) -> None:
        transition(
            self.session,
            self.job_id,
            to,
            expected=[self.state],
            actor=self.who,
            reason=self.reason,
            at=self.at,
            values=values,
        )

    def refuse(self) -> Conflict:
        return _conflict(self.job, self.action)


def _cancel(a: _Act) -> None:
    if a.state in WAITING_STATES | {JobState.interrupted}:
        a.move(JobState.cancelled, {"finished_at": a.at})
    elif a.state in ACTIVE_STATES:
        if a.job.cancel_requested:
            raise Conflict(f"job {a.job_id} is already being cancelled", state=a.state.value)
        _set_flag(a.session, a.job, a.action, a.at, cancel_requested=True)
    else:
        raise a.refuse()


def _pause(a: _Act) -> None:
    if a.state != JobState.running or a.job.pause_requested:
        raise a.refuse()
    assert a.job.machine is not None
    if not capability(get_record(a.session, a.job.machine), "can_pause"):
        raise Conflict(f"{a.job.machine} cannot pause a job", state=a.state.value)
    _set_flag(a.session, a.job, a.action, a.at, pause_requested=True)


def _resume(a: _Act) -> None:
    if a.state in (JobState.paused, JobState.running) and a.job.pause_requested:
        _set_flag(a.session, a.job, a.action, a.at, pause_requested=False)
    elif a.state == JobState.interrupted:
        _resume_interrupted(a.session, a.job, a.who, a.reason, a.at)
    else:
        raise a.refuse()


def _hold(a: _Act) -> None:
    if a.state not in (JobState.queued, JobState.draft):
        raise a.refuse()
    a.move(JobState.held)


def _release(a: _Act) -> None:
    if a.state not in (JobState.held, JobState.draft):
        raise a.refuse()
    a.move(JobState.queued)


def _requeue(a: _Act) -> None:
    if a.state not in (TERMINAL_STATES - {JobState.succeeded}) | {JobState.interrupted}:
        raise a.refuse()
    a.move(JobState.queued, requeue_values(a.job))


_ACTIONS: dict[str, Callable[[_Act], None]] = {
    "cancel": _cancel,
    "pause": _pause,
    "resume": _resume,
    "hold": _hold,
    "release": _release,
    "requeue": _requeue,
}


def act(*, session: Session, job_id: int, action: str, user: User, at: datetime) -> Job:
    """cancel | pause | resume | hold | release | requeue, each where it makes sense."""
    job = get_job(session, job_id, user)
    assert job.id is not None
    handler = _ACTIONS.get(action)
    if handler is None:
        raise NotFound(f"no action {action!r}")
    handler(
        _Act(
            session=session,
            job=job,
            job_id=job.id,
            state=JobState(job.state),
            action=action,
            who=_actor(user),
            reason=f"{action} by {user.name}",
            at=at,
        )
    )
    session.commit()
    session.refresh(job)
    return job


def _resume_interrupted(session: Session, job: Job, who: str, reason: str, at: datetime) -> None:
    """Continue an interrupted job from its checkpoint, on the machine that holds the part.

    It goes back to the queue pinned to that machine, and the machine, which waited for a
    person, takes work again: choosing to resume says the half-made part is still there.
    The scheduler puts a resuming job before any other on its machine.
    """
    assert job.id is not None
    if job.machine is None or not job.checkpoint:
        raise Conflict(
            f"job {job.id} has no checkpoint to resume from; requeue it", state="interrupted"
        )
    record = get_record(session, job.machine)
    if not capability(record, "can_resume"):
        raise Conflict(
            f"{job.machine} cannot resume an interrupted job; requeue it", state="interrupted"
        )
    checkpoint: dict[str, Any] = {**job.checkpoint, "resume": True}
    transition(
        session,
        job.id,
        JobState.queued,
        expected=[JobState.interrupted],
        actor=who,
        reason=reason,
        at=at,
        values={"target_machine": job.machine, "machine": None, "checkpoint": checkpoint},
    )
    if record.runner_state == RunnerState.awaiting_operator:
        back_to_work(session, record, at)
