"""Submitting jobs and acting on them. Writes to the database only; runners do the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, cast

import anyio.to_thread
from sqlalchemy import bindparam, text
from sqlmodel import Session, col, func, select

from fabqueue.db import SessionFactory, session_scope
from fabqueue.events import queue_bus_event
from fabqueue.models import Job, JobEvent, JobSummary, MachineRecord, Role, RunnerState, User
from fabqueue.models.types import UTCDateTime
from fabqueue.profiles import ProfileSet
from fabqueue.services.analysis import (
    CHOICES_KEY,
    REFUSED,
    analysis_task,
    check_fit,
    refusal,
    worker_owner,
)
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
from fabqueue.services.intake import (
    IntakeOptions,
    arun_source,
    drop_work,
    keep_made,
    make_from_source,
    plan_source,
    source_spec,
)
from fabqueue.services.job_search import matches
from fabqueue.services.machines import (
    MachineCatalog,
    all_machines,
    back_to_work,
    capability,
    get_record,
)
from fabqueue.states import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    JobState,
    record_creation,
    requeue_values,
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
    intake: IntakeOptions = field(default_factory=IntakeOptions)
    """Slicing preset, trace threshold…: used when the file is a model or a logo."""
    choices: dict[str, bool] = field(default_factory=dict)
    """What this job chose on its machine (a cutter's ``mirror``, ``weeding_border``);
    what it leaves out, the material and the machine decide. Kept with the job."""


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
    if req.choices and takers[0].kind != MachineKind.vinyl_cutter:
        raise Invalid(
            f"mirror and weeding border are a vinyl cutter's choices, not a "
            f"{takers[0].kind.value}'s"
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
    actor: User
    """Who acts: the owner, or staff submitting for them (a quote's conversion)."""
    file_type: str
    targets: list[MachineRecord]
    stored: Stored
    original: Stored | None = None
    """The model or logo as brought, when ``stored`` was made from it."""
    made_from: dict[str, Any] | None = None
    source_type: str | None = None
    """A model or logo to make into the job's file first (``stored`` is it, as brought)."""


def _check_request(request: SubmitRequest, owner: User) -> None:
    if not 1 <= request.copies <= MAX_COPIES:
        raise Invalid(f"copies must be between 1 and {MAX_COPIES}")
    if request.priority not in PRIORITY_RANGE:
        raise Invalid("priority must be between -100 and 100")
    if request.priority != 0 and not owner.is_staff:
        raise Forbidden("only staff can set a priority")
    assert owner.id is not None


def _targets(
    read_sessions: SessionFactory,
    profiles: ProfileSet,
    owner: User,
    request: SubmitRequest,
    file_type: str,
    catalog: MachineCatalog | None,
    now: datetime,
) -> list[MachineRecord]:
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
    return targets


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
    now: datetime,
    submitted_by: User | None,
) -> _Upload:
    _check_request(request, owner)
    file_type = file_type_of(request.filename)
    source = source_spec(file_type)
    source_type, file_type = (file_type, source.becomes) if source else (None, file_type)
    targets = _targets(read_sessions, profiles, owner, request, file_type, catalog, now)
    try:
        stored = store.save(stream, limit=upload_limit)
    except UploadTooLarge as exc:
        raise TooLarge(str(exc), limit=exc.limit) from exc
    return _Upload(
        request, owner, submitted_by or owner, file_type, targets, stored, source_type=source_type
    )


def _made(upload: _Upload, made: Stored, made_from: dict[str, Any]) -> _Upload:
    """The upload once its model or logo is made into the job's file."""
    return replace(upload, stored=made, original=upload.stored, made_from=made_from)


def _make_upload(
    store: FileStore, profiles: ProfileSet, workers: WorkerPool, upload: _Upload, limit: int
) -> _Upload:
    """A model sliced, a logo converted, in a worker (this thread waits)."""
    if upload.source_type is None:
        return upload
    made, made_from = make_from_source(
        store=store, profiles=profiles, workers=workers, source=upload.stored,
        file_type=upload.source_type, targets=upload.targets,
        material=upload.request.material, options=upload.request.intake, upload_limit=limit,
        owner=worker_owner(upload.owner.id),
    )  # fmt: skip
    return _made(upload, made, made_from)


async def _amake_upload(
    store: FileStore, profiles: ProfileSet, workers: WorkerPool, upload: _Upload, limit: int
) -> _Upload:
    """:func:`_make_upload` without holding a thread while PrusaSlicer works."""
    if upload.source_type is None:
        return upload
    source_type = upload.source_type
    work = await anyio.to_thread.run_sync(
        lambda: plan_source(
            store=store,
            profiles=profiles,
            path=upload.stored.path,
            file_type=source_type,
            targets=upload.targets,
            material=upload.request.material,
            options=upload.request.intake,
        )
    )
    try:
        made = await arun_source(workers, work, worker_owner(upload.owner.id))
        stored, made_from = await anyio.to_thread.run_sync(
            lambda: keep_made(store, upload.stored, work, made, limit)
        )
    finally:
        drop_work(work)
    return _made(upload, stored, made_from)


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
    check_fit(analysis, profiles, upload.targets, request.choices)
    analysis = _refine(read_sessions, profiles, request, upload.targets, analysis)
    if request.choices:
        analysis.details[CHOICES_KEY] = dict(request.choices)
    if upload.made_from is not None:
        made_from = dict(upload.made_from)
        analysis.warnings.extend(made_from.pop("warnings", []))
        analysis.details["made_from"] = made_from
    with session_scope(sessions) as session:
        index_file(session, stored.sha256, stored.size, now)
        if upload.original is not None:  # the model or logo as brought is kept with its job
            index_file(session, upload.original.sha256, upload.original.size, now)
        job = Job(
            kind=upload.targets[0].kind,
            target_machine=request.machine,
            material=request.material,
            copies=request.copies,
            priority=request.priority,
            owner_id=owner.id,
            title=(request.title or request.filename)[:200],
            file_sha256=stored.sha256,
            file_name=_made_name(request.filename, upload.file_type)[:255],
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
        record_creation(session, job, actor=_actor(upload.actor), at=now)
    return job


def _made_name(filename: str, file_type: str) -> str:
    """``benchy.stl`` sliced is ``benchy.gcode``: the name says what the file is."""
    return filename if file_type_of(filename) == file_type else f"{Path(filename).stem}.{file_type}"


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
    submitted_by: User | None = None,
) -> Job:
    """Validate, store, analyse (in a worker) and queue a job, from a thread. Nothing
    is kept if any step refuses it.

    ``submitted_by`` is who acts when it is not the owner (staff converting a quote for
    its client): the job's first event names them, so a hold they set is theirs."""
    upload = _accept_upload(
        read_sessions=read_sessions,
        store=store,
        profiles=profiles,
        owner=owner,
        stream=stream,
        request=request,
        upload_limit=upload_limit,
        catalog=catalog,
        now=now,
        submitted_by=submitted_by,
    )
    upload = _make_upload(store, profiles, workers, upload, upload_limit)
    try:
        analysis: Analysis = workers.run(
            *analysis_task(
                upload.stored.path, upload.file_type, profiles, upload.targets, request.choices
            ),
            owner=worker_owner(owner.id),
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
            now=now,
            submitted_by=None,
        )
    )
    upload = await _amake_upload(store, profiles, workers, upload, upload_limit)
    try:
        analysis: Analysis = await workers.arun(
            *analysis_task(
                upload.stored.path, upload.file_type, profiles, upload.targets, request.choices
            ),
            owner=worker_owner(owner.id),
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
        # The same answer as for a job that does not exist: ids are not to be probed.
        raise NotFound(f"no job {job_id}")
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
    q: str | None = None,
) -> tuple[list[JobSummary], int]:
    """A page of jobs, newest first, without their analyses (never read from the
    database here: they are the bulk of a job's row). ``before``: only jobs with a
    smaller id (the keyset of the next page); the count ignores it. ``q``: words to
    find (``job_search``)."""
    found = matches(q, session.get_bind().dialect.name) if q else None

    def listed(query: Any) -> Any:
        query = _listed(query, user, states, machine, owner_id)
        return query if found is None else query.where(found)

    counted = listed(select(func.count(col(Job.id))))
    # Core execution on the session's connection: no ORM step for plain rows.
    connection = session.connection()
    total = connection.execute(counted).scalar_one()
    query = listed(select(*_SUMMARY_COLUMNS))
    if before is not None:
        query = query.where(col(Job.id) < before)
    query = query.order_by(col(Job.id).desc()).offset(offset).limit(limit)
    rows = connection.execute(query).all()
    page = [cast(JobSummary, dict(zip(_SUMMARY_FIELDS, row, strict=True))) for row in rows]
    return page, int(total)


def job_page(
    read_sessions: SessionFactory, user: User, **filters: Any
) -> tuple[list[JobSummary], int]:
    """:func:`job_summaries` in a read session of its own, opened and closed in the
    calling thread: the API's most read route hops to a thread once for all of it."""
    with read_sessions() as session:
        return job_summaries(session, user, **filters)


def job_events(session: Session, job_id: int, user: User) -> list[JobEvent]:
    get_job(session, job_id, user)
    return list(
        session.exec(select(JobEvent).where(JobEvent.job_id == job_id).order_by(col(JobEvent.id)))
    )


def _conflict(job: Job, action: str) -> Conflict:
    return Conflict(f"cannot {action} job {job.id}: it is {job.state.value}", state=job.state.value)


ACTIONS = ("cancel", "pause", "resume", "hold", "release", "requeue")

VALID_FROM: dict[str, frozenset[JobState]] = {
    "cancel": frozenset({JobState.draft, JobState.queued, JobState.held, JobState.interrupted})
    | ACTIVE_STATES,
    "pause": frozenset({JobState.running}),
    "resume": frozenset({JobState.paused, JobState.running, JobState.interrupted}),
    "hold": frozenset({JobState.queued, JobState.draft}),
    "release": frozenset({JobState.held, JobState.draft}),
    "requeue": (TERMINAL_STATES - {JobState.succeeded}) | {JobState.interrupted},
}
"""The states each action applies to; anything else is a 409 with the current state."""


class SetBy(StrEnum):
    """Who put a job in its current state (docs/permissions.md)."""

    owner = "owner"
    staff = "staff"
    machine = "machine"
    """A machine's runner or the service itself (a print failed, a node restarted)."""


def set_by(session: Session, job: Job) -> SetBy:
    """From the event that moved the job into its current state."""
    actor = session.exec(
        select(JobEvent.actor)
        .where(JobEvent.job_id == job.id)
        .where(JobEvent.to_state == job.state)
        .order_by(col(JobEvent.id).desc())
        .limit(1)
    ).first()
    if actor is None or not actor.startswith("user:"):
        return SetBy.machine
    user_id = actor.removeprefix("user:")
    if user_id == str(job.owner_id):
        return SetBy.owner
    # Only staff act on other people's jobs; an unknown or removed user counts as staff
    # so that a decision never becomes undoable by losing its author.
    return SetBy.staff


_MEMBER_REFUSALS: dict[tuple[str, JobState], str] = {
    ("hold", JobState.draft): "staff review draft jobs",
    ("release", JobState.draft): "staff review draft jobs",
    ("cancel", JobState.interrupted): "staff decide what happens to an interrupted job",
    ("resume", JobState.interrupted): "staff decide what happens to an interrupted job",
    ("requeue", JobState.interrupted): "staff decide what happens to an interrupted job",
}


def member_may(action: str, state: JobState, by: SetBy) -> str | None:
    """Why a member may not do ``action`` on their own job, or None when they may.

    What staff decided (a hold, a cancel), only staff undo; a member acts on what they
    or a machine did.
    """
    refusal = _MEMBER_REFUSALS.get((action, state))
    if refusal is not None:
        return refusal
    undoes = action == "release" or (action == "requeue" and state == JobState.cancelled)
    if undoes and by != SetBy.owner:
        # A cancel carried out by a machine was asked for by someone not recorded.
        return f"you did not make this job {state.value}; only staff can {action} it"
    return None


def check_action(session: Session, user: User, job: Job, action: str) -> None:
    """403 unless ``user`` may do ``action`` on ``job`` in its current state."""
    if user.is_staff:
        return
    if user.role != Role.member:
        raise Forbidden("clients follow their jobs; ask the café to change them")
    refusal = member_may(action, JobState(job.state), set_by(session, job))
    if refusal is not None:
        raise Forbidden(refusal)


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
    session: Session
    job: Job
    state: JobState
    who: str
    reason: str
    at: datetime

    def move(self, to: JobState, values: dict[str, Any] | None = None) -> None:
        assert self.job.id is not None
        transition(
            self.session,
            self.job.id,
            to,
            expected=[self.state],
            actor=self.who,
            reason=self.reason,
            at=self.at,
            values=values,
        )


def _cancel(a: _Act) -> None:
    if a.state in ACTIVE_STATES:
        if a.job.cancel_requested:
            raise Conflict(f"job {a.job.id} is already being cancelled", state=a.state.value)
        _set_flag(a.session, a.job, "cancel", a.at, cancel_requested=True)
    else:
        a.move(JobState.cancelled, {"finished_at": a.at})


def _pause(a: _Act) -> None:
    if a.job.pause_requested:
        raise _conflict(a.job, "pause")
    assert a.job.machine is not None
    if not capability(get_record(a.session, a.job.machine), "can_pause"):
        raise Conflict(f"{a.job.machine} cannot pause a job", state=a.state.value)
    _set_flag(a.session, a.job, "pause", a.at, pause_requested=True)


def _resume(a: _Act) -> None:
    if a.state == JobState.interrupted:
        _resume_interrupted(a.session, a.job, a.who, a.reason, a.at)
    elif a.job.pause_requested:
        _set_flag(a.session, a.job, "resume", a.at, pause_requested=False)
    else:
        raise _conflict(a.job, "resume")


def _requeue(a: _Act) -> None:
    a.move(JobState.queued, requeue_values(a.job))


_PERFORM: dict[str, Callable[[_Act], None]] = {
    "cancel": _cancel,
    "pause": _pause,
    "resume": _resume,
    "hold": lambda a: a.move(JobState.held),
    "release": lambda a: a.move(JobState.queued),
    "requeue": _requeue,
}


def act(*, session: Session, job_id: int, action: str, user: User, at: datetime) -> Job:
    """cancel | pause | resume | hold | release | requeue, each where it makes sense and
    by whom docs/permissions.md says."""
    if action not in VALID_FROM:
        raise NotFound(f"no action {action!r}")
    job = get_job(session, job_id, user)
    assert job.id is not None
    state = JobState(job.state)
    if state not in VALID_FROM[action]:
        raise _conflict(job, action)
    check_action(session, user, job, action)
    _PERFORM[action](_Act(session, job, state, _actor(user), f"{action} by {user.name}", at))
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
