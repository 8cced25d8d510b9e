"""Claiming the next job for a machine, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from drivers.base import JobTicket
from fabqueue.dispatch.scheduler import Booking, Candidate, MachineInfo, pick_next
from fabqueue.models import Booking as BookingRow
from fabqueue.models import Job, MachineRecord, Role, RunnerState, User
from fabqueue.services.analysis import CHOICES_KEY, job_choices
from fabqueue.services.estimates import correction_factor
from fabqueue.states import ACTIVE_STATES, OCCUPYING_STATES, JobState, transition
from fabqueue.storage import FileStore
from jobs.base import Analysis, MachineKind

CANDIDATE_WINDOW = 100
"""Queued jobs looked at per claim; the most urgent and oldest come first."""
BOOKING_HORIZON = timedelta(days=7)
"""Bookings further ahead than this cannot be reached by a job starting now."""


def bookings_ahead(session: Session, slug: str, now: datetime) -> list[Booking]:
    """The machine's live bookings from now on (a no-show leaves the machine to the queue)."""
    rows = session.exec(
        select(BookingRow.member_id, BookingRow.starts_at, BookingRow.ends_at)
        .where(BookingRow.machine == slug)
        .where(col(BookingRow.cancelled_at).is_(None), col(BookingRow.no_show_at).is_(None))
        .where(BookingRow.ends_at > now, BookingRow.starts_at < now + BOOKING_HORIZON)
    )
    return [Booking(owner_id=m, starts_at=s, ends_at=e) for m, s, e in rows]


def _members(session: Session, jobs: Sequence[Job]) -> set[int]:
    owners = {j.owner_id for j in jobs}
    rows = session.exec(
        select(User.id).where(col(User.id).in_(owners)).where(User.role == Role.member)
    )
    return {i for i in rows if i is not None}


def _candidate(job: Job, slug: str, needs_booking: bool = False) -> Candidate:
    assert job.id is not None
    return Candidate(
        id=job.id,
        owner_id=job.owner_id,
        file_type=job.file_type,
        material=job.material,
        priority=job.priority,
        created_at=job.created_at,
        analysis=Analysis.model_validate(job.analysis) if job.analysis else None,
        resuming=bool(job.checkpoint.get("resume")) and job.target_machine == slug,
        needs_booking=needs_booking,
    )


def active_jobs_of(session: Session, slug: str, node: str) -> list[Job]:
    """The active jobs of machine ``slug``, if it belongs to ``node``."""
    active = [s.value for s in ACTIVE_STATES]
    return list(
        session.exec(
            select(Job)
            .join(MachineRecord, col(MachineRecord.slug) == Job.machine)
            .where(Job.machine == slug, MachineRecord.node == node)
            .where(col(Job.state).in_(active))
        )
    )


def worth_claiming(session: Session, slug: str, kind: MachineKind) -> str:
    """Is the machine taking work, free, and is there a queued job it could take?
    "yes", or why not: "stopped" (not accepting), "occupied", "empty"."""
    record = session.get(MachineRecord, slug)
    if record is None or record.runner_state != RunnerState.accepting or record.out_of_service:
        return "stopped"
    occupied = session.exec(
        select(Job.id)
        .where(Job.machine == slug)
        .where(col(Job.state).in_([s.value for s in OCCUPYING_STATES]))
    ).first()
    if occupied is not None:
        return "occupied"
    # Two index seeks rather than one OR, which would scan every queued job.
    for target in (Job.target_machine == slug, col(Job.target_machine).is_(None)):
        waiting = session.exec(
            select(Job.id)
            .where(Job.state == JobState.queued)
            .where(target)
            .where(Job.kind == kind)
            .limit(1)
        ).first()
        if waiting is not None:
            return "yes"
    return "empty"


def claim_next(
    session: Session,
    *,
    machine: MachineInfo,
    kind: MachineKind,
    store: FileStore,
    now: datetime,
) -> JobTicket | None:
    """Move the job ``pick_next`` chooses to ``starting`` on ``machine``; None if none.

    The caller has seen the machine free (:func:`worth_claiming`). Raises
    ``InvalidTransition`` (another runner took the job first) or an integrity error (the
    machine got a job meanwhile); the caller rolls back and tries again.
    """
    slug = machine.slug
    record = session.get(MachineRecord, slug)
    if record is None or record.runner_state != RunnerState.accepting or record.out_of_service:
        return None
    # Occupancy was looked at by worth_claiming; if the machine got a job since, the
    # partial unique index refuses this one and the caller rolls back.
    rows = session.exec(
        select(Job)
        .where(Job.state == JobState.queued)
        .where(Job.kind == kind)
        .where((col(Job.target_machine).is_(None)) | (Job.target_machine == slug))
        .order_by(col(Job.priority).desc(), col(Job.created_at), col(Job.id))
        .limit(CANDIDATE_WINDOW)
        # Several nodes on one PostgreSQL never look at the same rows at once.
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return None
    correction = correction_factor(session, slug)
    info = replace(
        machine,
        loaded_material=record.loaded_material,
        correction=correction.factor if correction is not None else 1.0,
    )
    members = _members(session, rows) if machine.member_jobs_need_booking else set()
    candidates = [_candidate(job, slug, job.owner_id in members) for job in rows]
    decision = pick_next(candidates, info, bookings_ahead(session, slug, now), now)
    if decision.job_id is None:
        return None
    job = next(j for j in rows if j.id == decision.job_id)
    assert job.id is not None
    ref = f"fq-{job.id}-{job.attempt}"
    resume = dict(job.checkpoint) if job.checkpoint.get("resume") else None
    transition(
        session,
        job.id,
        JobState.starting,
        expected=[JobState.queued],
        actor=f"machine:{slug}",
        reason="resuming" if resume else "claimed",
        at=now,
        values={
            "machine": slug,
            "driver_ref": ref,
            "started_at": job.started_at if resume else now,
            "progress": (resume or {}).get("progress", 0.0),
            "message": None,
            "cancel_requested": False,
            "pause_requested": False,
        },
    )
    return JobTicket(
        job_id=job.id,
        ref=ref,
        file_path=store.path_for(job.file_sha256),
        file_name=job.file_name,
        file_type=job.file_type,
        material=job.material,
        copies=job.copies,
        estimated_duration_s=(job.analysis or {}).get("duration_s"),
        resume_from=resume,
        params={CHOICES_KEY: choices} if (choices := job_choices(job.analysis)) else {},
    )
