"""Submitting jobs and acting on them. Writes to the database only; runners do the rest."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, cast

import anyio.to_thread
from sqlalchemy import bindparam, text
from sqlmodel import Session, col, func, select

from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Job, JobEvent, JobSummary, MachineRecord, RunnerState, User
from fabqueue.models.types import UTCDateTime
from fabqueue.profiles import ProfileSet
from fabqueue.services.analysis import (
    REFUSED,
    analysis_task,
    check_fit,
    refusal,
)
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
    capability,
    get_record,
)
from fabqueue.states import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    JobState,
    queue_bus_event,
    record_creation,
    transition,
)
from fabqueue.storage import FileStore, Stored, UploadTooLarge
from fabqueue.workers import WorkerPool
from jobs.base import Analysis, MachineKind
from jobs.gcode.analysis import with_material
from jobs.registry import ANALYZERS, accepted_types, file_type_of

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


@dataclass(frozen=True)
class _Upload:
    """A submission checked and stored, waiting for its analysis."""

    request: SubmitRequest
    owner: User
    file_type: str
    targets: list[MachineRecord]
    stored: Stored


def _accept_upload(
    *,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    owner: User,
    stream: BinaryIO,
    request: SubmitRequest,
    upload_limit: int,
    catalog: MachineCatalog | None,
) -> _Upload:
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
    if request.material is not None:
        _check_material(profiles, targets, request.material)
    try:
        stored = store.save(stream, limit=upload_limit)
    except UploadTooLarge as exc:
        raise TooLarge(str(exc), limit=exc.limit) from exc
    return _Upload(request, owner, file_type, targets, stored)


def _queue_job(
    *,
    sessions: SessionFactory,
    read_sessions: SessionFactory,
    profiles: ProfileSet,
    upload: _Upload,
    analysis: Analysis,
    now: datetime,
) -> Job:
    request, owner, stored = upload.request, upload.owner, upload.stored
    assert owner.id is not None
    check_fit(analysis, profiles, upload.targets)
    analysis = _refine(read_sessions, profiles, request, upload.targets, analysis)
    with session_scope(sessions) as session:
        index_file(session, stored.sha256, stored.size, now)
        job = Job(
            kind=upload.targets[0].kind,
            target_machine=request.machine,
            material=request.material,
            copies=request.copies,
            priority=request.priority,
            owner_id=owner.id,
            title=(request.title or request.filename)[:200],
            file_sha256=stored.sha256,
            file_name=request.filename[:255],
            file_type=upload.file_type,
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


def submit_job(
    *,
    sessions: SessionFactory,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    owner: User,
    stream: BinaryIO,
    request: SubmitRequest,
    upload_limit: int,
    now: datetime,
    catalog: MachineCatalog | None = None,
) -> Job:
    """Validate, store, analyse (in a worker) and queue a job, from a thread. Nothing
    is kept if any step refuses it."""
    upload = _accept_upload(
        read_sessions=read_sessions,
        store=store,
        profiles=profiles,
        owner=owner,
        stream=stream,
        request=request,
        upload_limit=upload_limit,
        catalog=catalog,
    )
    try:
        analysis: Analysis = workers.run(
            *analysis_task(upload.stored.path, upload.file_type, profiles, upload.targets)
        )
    except REFUSED as exc:
        raise refusal(upload.file_type, exc) from exc
    return _queue_job(
        sessions=sessions,
        read_sessions=read_sessions,
        profiles=profiles,
        upload=upload,
        analysis=analysis,
        now=now,
    )


async def submit_job_async(
    *,
    sessions: SessionFactory,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    owner: User,
    stream: BinaryIO,
    request: SubmitRequest,
    upload_limit: int,
    now: datetime,
    catalog: MachineCatalog | None = None,
) -> Job:
    """:func:`submit_job` for the event loop: no thread is held while the file waits
    for, or is in, a worker, so hostile uploads cannot take the API's threads."""
    upload = await anyio.to_thread.run_sync(
        lambda: _accept_upload(
            read_sessions=read_sessions,
            store=store,
            profiles=profiles,
            owner=owner,
            stream=stream,
            request=request,
            upload_limit=upload_limit,
            catalog=catalog,
        )
    )
    try:
        analysis: Analysis = await workers.arun(
            *analysis_task(upload.stored.path, upload.file_type, profiles, upload.targets)
        )
    except REFUSED as exc:
        raise refusal(upload.file_type, exc) from exc
    return await anyio.to_thread.run_sync(
        lambda: _queue_job(
            sessions=sessions,
            read_sessions=read_sessions,
            profiles=profiles,
            upload=upload,
            analysis=analysis,
            now=now,
        )
    )


def get_job(session: Session, job_id: int, user: User) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if not user.is_staff and job.owner_id != user.id:
        raise Forbidden("this job is not yours")
    return job


def _listed(
    query: Any,
    user: User,
    states: list[JobState] | None,
    machine: str | None,
    owner_id: int | None,
) -> Any:
    if not user.is_staff:
        query = query.where(Job.owner_id == user.id)
    elif owner_id is not None:
        query = query.where(Job.owner_id == owner_id)
    if states:
        query = query.where(col(Job.state).in_([s.value for s in states]))
    if machine:
        query = query.where((Job.machine == machine) | (Job.target_machine == machine))
    return query


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
    query = _listed(select(Job), user, states, machine, owner_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Job.id).desc()).offset(offset).limit(limit))
    return list(rows), int(total)


_SUMMARY_FIELDS = tuple(JobSummary.__annotations__)
_SUMMARY_COLUMNS = [Job.__table__.c[name] for name in _SUMMARY_FIELDS]  # type: ignore[attr-defined]
"""Core columns: the page needs plain rows, not the ORM's row loading."""


def job_summaries(
    session: Session,
    user: User,
    *,
    states: list[JobState] | None = None,
    machine: str | None = None,
    owner_id: int | None = None,
    limit: int = 50,
    before: int | None = None,
    offset: int = 0,
) -> tuple[list[JobSummary], int]:
    """A page of jobs, newest first, without their analyses (never read from the
    database here: they are the bulk of a job's row). ``before``: only jobs with a
    smaller id (the keyset of the next page); the count ignores it."""
    counted = _listed(select(func.count(col(Job.id))), user, states, machine, owner_id)
    total = session.execute(counted).scalar_one()
    query = _listed(select(*_SUMMARY_COLUMNS), user, states, machine, owner_id)
    if before is not None:
        query = query.where(col(Job.id) < before)
    query = query.order_by(col(Job.id).desc()).offset(offset).limit(limit)
    rows = session.connection().execute(query).all()
    page = [cast(JobSummary, dict(zip(_SUMMARY_FIELDS, row, strict=True))) for row in rows]
    return page, int(total)


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


def act(*, session: Session, job_id: int, action: str, user: User, at: datetime) -> Job:
    """cancel | pause | resume | hold | release | requeue, each where it makes sense."""
    job = get_job(session, job_id, user)
    assert job.id is not None
    state = JobState(job.state)
    who = _actor(user)
    reason = f"{action} by {user.name}"
    if action == "cancel":
        if state in (JobState.draft, JobState.queued, JobState.held, JobState.interrupted):
            transition(
                session,
                job.id,
                JobState.cancelled,
                expected=[state],
                actor=who,
                reason=reason,
                at=at,
                values={"finished_at": at},
            )
        elif state in ACTIVE_STATES:
            if job.cancel_requested:
                raise Conflict(f"job {job.id} is already being cancelled", state=state.value)
            _set_flag(session, job, action, at, cancel_requested=True)
        else:
            raise _conflict(job, action)
    elif action == "pause":
        if state != JobState.running or job.pause_requested:
            raise _conflict(job, action)
        assert job.machine is not None
        if not capability(get_record(session, job.machine), "can_pause"):
            raise Conflict(f"{job.machine} cannot pause a job", state=state.value)
        _set_flag(session, job, action, at, pause_requested=True)
    elif action == "resume":
        if state in (JobState.paused, JobState.running) and job.pause_requested:
            _set_flag(session, job, action, at, pause_requested=False)
        elif state == JobState.interrupted:
            _resume_interrupted(session, job, who, reason, at)
        else:
            raise _conflict(job, action)
    elif action == "hold":
        if state not in (JobState.queued, JobState.draft):
            raise _conflict(job, action)
        transition(
            session, job.id, JobState.held, expected=[state], actor=who, reason=reason, at=at
        )
    elif action == "release":
        if state not in (JobState.held, JobState.draft):
            raise _conflict(job, action)
        transition(
            session, job.id, JobState.queued, expected=[state], actor=who, reason=reason, at=at
        )
    elif action == "requeue":
        if state not in (TERMINAL_STATES - {JobState.succeeded}) | {JobState.interrupted}:
            raise _conflict(job, action)
        transition(
            session,
            job.id,
            JobState.queued,
            expected=[state],
            actor=who,
            reason=reason,
            at=at,
            values={
                "machine": None,
                "attempt": job.attempt + 1,
                "progress": None,
                "eta_s": None,
                "checkpoint": {},
                "driver_ref": None,
                "cancel_requested": False,
                "pause_requested": False,
                "outcome": None,
                "started_at": None,
                "finished_at": None,
                "message": None,
            },
        )
    else:
        raise NotFound(f"no action {action!r}")
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
        record.runner_state = RunnerState.accepting
        record.updated_at = at
        session.add(record)
        queue_bus_event(
            session, "machine:runner", {"machine": record.slug, "runner_state": "accepting"}
        )
