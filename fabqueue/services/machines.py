"""Machines as the database knows them: records, registration by their node, operator gates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from fabqueue.events import queue_bus_event
from fabqueue.models import (
    Job,
    Machine,
    MachineEvent,
    MachinePublic,
    MachineRecord,
    Outcome,
    RunnerState,
    User,
)
from fabqueue.profiles import MachineProfile, ProfileSet
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound
from fabqueue.states import (
    ACTIVE_STATES,
    OCCUPYING_STATES,
    InvalidTransition,
    JobState,
    mark_running,
    requeue_values,
    transition,
)
from jobs.base import MachineKind
from jobs.params import CutterParams, EmbroideryParams, MachineParams, PrinterParams

_PARAMS: dict[MachineKind, type[MachineParams]] = {
    MachineKind.fdm_printer: PrinterParams,
    MachineKind.vinyl_cutter: CutterParams,
    MachineKind.embroidery: EmbroideryParams,
}


def spec_of(profile: MachineProfile, profiles: ProfileSet) -> dict[str, Any]:
    """What every node must know of a machine to accept jobs for it."""
    caps = profiles.capabilities(profile)
    return {
        "file_types": sorted(profiles.file_types(profile)),
        "materials": list(profile.materials),
        "track_material": profile.track_material,
        "auto_advance": profile.auto_advance,
        "hourly_rate": str(profile.hourly_rate),
        "params": profile.params.model_dump(mode="json"),
        "capabilities": caps.model_dump(mode="json", exclude={"file_types"}),
    }


def params_of(record: MachineRecord) -> MachineParams:
    return _PARAMS[record.kind].model_validate(record.spec.get("params", {}))


def capability(record: MachineRecord, name: str) -> bool:
    return bool(record.spec.get("capabilities", {}).get(name, False))


class MachineOwnedElsewhere(Exception):
    pass


def register_local(
    *, session: Session, profiles: ProfileSet, node: str, at: datetime
) -> list[MachineRecord]:
    """Create or refresh the records of this node's machines.

    A slug already driven by another node is refused: two nodes sending jobs to one
    machine would be the worst possible failure.
    """
    records = []
    for profile in profiles.machines.values():
        record = session.get(MachineRecord, profile.slug)
        if record is not None and record.node != node:
            raise MachineOwnedElsewhere(
                f"machine {profile.slug!r} belongs to node {record.node!r}, not {node!r}: "
                "give this profile another file name (a machine is driven by one node), "
                "or set FABQUEUE_NODE if this computer replaced that node"
            )
        if record is None:
            record = MachineRecord(
                slug=profile.slug,
                node=node,
                name=profile.name,
                kind=profile.kind,
                driver=profile.driver_type,
                updated_at=at,
            )
        record.name = profile.name
        record.kind = profile.kind
        record.driver = profile.driver_type
        record.spec = spec_of(profile, profiles)
        record.updated_at = at
        session.add(record)
        records.append(record)
    session.flush()
    return records


def all_machines(session: Session) -> list[MachineRecord]:
    """Every machine of every node, detached (safe to keep after the session)."""
    records = list(session.exec(select(MachineRecord)))
    for record in records:
        session.expunge(record)
    return records


class MachineCatalog:
    """The machines as submissions need them (kind, file types, size limits), read again
    at most every ``ttl_s``: they change when a node starts, not at every request."""

    def __init__(self, read_sessions: Callable[[], Session], ttl_s: float = 2.0) -> None:
        self._read_sessions = read_sessions
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._records: list[MachineRecord] = []
        self._read_at = -1e18

    def records(self) -> list[MachineRecord]:
        now = time.monotonic()
        with self._lock:
            if now - self._read_at <= self.ttl_s:
                return self._records
        with self._read_sessions() as session:
            records = all_machines(session)
        with self._lock:
            self._records, self._read_at = records, now
        return records

    def forget(self) -> None:
        with self._lock:
            self._read_at = -1e18


def get_record(session: Session, slug: str) -> MachineRecord:
    record = session.get(MachineRecord, slug)
    if record is None:
        raise NotFound(f"no machine {slug!r}")
    return record


def occupying_job(session: Session, slug: str) -> Job | None:
    return session.exec(
        select(Job)
        .where(Job.machine == slug)
        .where(col(Job.state).in_([s.value for s in OCCUPYING_STATES]))
    ).first()


_STATUS_SHOWN = ("state", "temperatures", "at")
_JOB_SHOWN = ("phase", "progress", "eta_s")


def anonymous_status(status: dict[str, Any]) -> dict[str, Any]:
    """A machine's status as members and clients see it: its state, progress and
    temperatures, without the job's reference or the messages that may name someone."""
    kept: dict[str, Any] = {k: status[k] for k in _STATUS_SHOWN if k in status}
    job = status.get("job")
    kept["job"] = {k: job[k] for k in _JOB_SHOWN if k in job} if isinstance(job, dict) else None
    return kept


def to_public(session: Session, record: MachineRecord, viewer: User | None = None) -> MachinePublic:
    """``viewer``: who asks; members and clients see only their own job on a machine."""
    job = occupying_job(session, record.slug)
    status = record.status
    if viewer is not None and not viewer.is_staff:
        status = anonymous_status(status)
        if job is not None and job.owner_id != viewer.id:
            job = None
    return MachinePublic(
        **record.model_dump(exclude={"status"}),
        status=status,
        current_job_id=job.id if job else None,
    )


def list_machines(session: Session) -> list[MachineRecord]:
    return list(session.exec(select(MachineRecord).order_by(col(MachineRecord.slug))))


def set_runner_state(
    session: Session, record: MachineRecord, state: RunnerState, at: datetime
) -> None:
    """Whether the machine takes work; the bus tells its runner after the commit."""
    record.runner_state = state
    record.updated_at = at
    session.add(record)
    queue_bus_event(
        session, "machine:runner", {"machine": record.slug, "runner_state": state.value}
    )


def back_to_work(session: Session, record: MachineRecord, at: datetime) -> None:
    """A person has cleared the machine: it takes jobs again, or stays stopped if staff
    want it out of service (a wish that holds through the operator's confirmation)."""
    wanted = RunnerState.stopped if record.out_of_service else RunnerState.accepting
    set_runner_state(session, record, wanted, at)


def confirm(
    *, session: Session, slug: str, outcome: Outcome | None, actor: User, at: datetime
) -> Job | None:
    """The operator has been to the machine: the job is off it and judged, or it is clear.

    A job waiting for the operator ends ``succeeded`` (good) or goes back to the queue
    (bad). So does a running job on a machine that cannot tell when it is finished.
    Then the machine takes jobs again, unless staff took it out of service meanwhile.
    """
    record = get_record(session, slug)
    job = occupying_job(session, slug)
    who = f"user:{actor.id}"
    if job is not None:
        _judge(session, record, job, outcome, who, at)
    elif record.runner_state != RunnerState.awaiting_operator:
        raise Conflict(f"{slug} is not waiting for an operator", state=record.runner_state.value)
    # An emergency stop not yet carried out stays asked: the machine's runner stops the
    # machine before it looks for the next job.
    back_to_work(session, record, at)
    session.commit()
    if job is not None:
        session.refresh(job)
    return job


def _judge(
    session: Session,
    record: MachineRecord,
    job: Job,
    outcome: Outcome | None,
    who: str,
    at: datetime,
) -> None:
    """End the job the operator took off the machine: good, or bad (it runs again)."""
    assert job.id is not None
    hands_on = not capability(record, "reports_completion")
    if (
        outcome is not None
        and hands_on
        and job.state == JobState.starting
        and capability(record, "needs_operator_start")
    ):
        # Finished without anyone saying it had started: it did start.
        mark_running(
            session, job.id, actor=who, reason="operator: finished (start not reported)", at=at
        )
        session.refresh(job)
    finishing = job.state == JobState.awaiting_operator or (
        job.state == JobState.running and hands_on
    )
    if not finishing:
        raise Conflict(
            f"job {job.id} is {job.state.value} on {record.slug}; it must finish first",
            state=job.state.value,
        )
    if outcome is None:
        raise Invalid("say whether the result is good or bad (outcome)")
    from_state = JobState(job.state)
    if outcome == Outcome.good:
        values: dict[str, Any] = {"outcome": outcome, "finished_at": job.finished_at or at}
        took = _hands_on_duration(job, at) if from_state == JobState.running else None
        if took is not None:
            values["actual_duration_s"] = took
        to, reason = JobState.succeeded, "operator: good"
    else:
        values = {**requeue_values(job), "outcome": outcome}
        to, reason = JobState.queued, "operator: bad, runs again"
    transition(
        session, job.id, to, expected=[from_state], actor=who, reason=reason, at=at, values=values
    )


def emergency_stop(*, session: Session, user: User, slug: str, at: datetime) -> Machine:
    """Stop the machine now (staff only). Its active job is ``interrupted`` at once; the
    machine's runner stops the machine through its driver and records what it did. The
    machine then waits for a person: it takes no job until staff confirm it is clear
    (or resume the interrupted job)."""
    if not user.is_staff:
        raise Forbidden("only staff can make an emergency stop")
    record = get_record(session, slug)
    who = f"user:{user.id}"
    job = active_job(session, slug)
    detail = "no job was running"
    if job is not None:
        detail = _interrupt_for_stop(session, job, who, f"emergency stop by {user.name}", at)
    record.emergency_stop_at = at
    session.add(
        MachineEvent(machine=slug, at=at, actor=who, action="emergency_stop", detail=detail)
    )
    set_runner_state(session, record, RunnerState.awaiting_operator, at)
    queue_bus_event(session, "machine:emergency_stop", {"machine": slug, "actor": who})
    session.commit()
    session.refresh(record)
    return record


def _interrupt_for_stop(session: Session, job: Job, who: str, reason: str, at: datetime) -> str:
    assert job.id is not None
    try:
        transition(
            session,
            job.id,
            JobState.interrupted,
            expected=ACTIVE_STATES,
            actor=who,
            reason=reason,
            at=at,
            values={"message": reason[:500], "eta_s": None},
        )
    except InvalidTransition as exc:
        # It ended on the machine a moment ago: the machine is stopped all the same.
        current = exc.current.value if exc.current else "gone"
        return f"job {job.id} had just ended ({current})"
    return f"job {job.id} interrupted"


def active_job(session: Session, slug: str) -> Job | None:
    """The job the machine is working on (not one waiting to be taken off it)."""
    return session.exec(
        select(Job)
        .where(Job.machine == slug)
        .where(col(Job.state).in_([s.value for s in ACTIVE_STATES]))
    ).first()


def machine_events(session: Session, slug: str) -> list[MachineEvent]:
    get_record(session, slug)
    return list(
        session.exec(
            select(MachineEvent).where(MachineEvent.machine == slug).order_by(col(MachineEvent.id))
        )
    )


def _hands_on_duration(job: Job, at: datetime) -> float | None:
    """Machine time of a job only a person saw run: from "started" to "finished"."""
    started = (job.checkpoint.get("operator") or {}).get("started_at")
    if not started:
        return None
    try:
        seconds = (at - datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return None
    return round(seconds, 3) if seconds >= 0 else None


def operator_report(
    *, session: Session, slug: str, next_block: int | None, actor: User, at: datetime
) -> Job:
    """Someone at a machine that cannot tell its own progress says the job is under way
    (it started; optionally which colour block is next). A job still ``starting`` is
    then ``running``; the machine's runner passes the report on to its driver."""
    record = get_record(session, slug)
    if not (
        capability(record, "needs_operator_start") or not capability(record, "reports_completion")
    ):
        raise Conflict(f"{slug} reports its own progress", state=record.runner_state.value)
    job = occupying_job(session, slug)
    if job is None or job.state not in (JobState.starting, JobState.running):
        state = job.state.value if job is not None else "idle"
        raise Conflict(f"no job is under way on {slug}", state=state)
    assert job.id is not None
    if not actor.is_staff and job.owner_id != actor.id:
        raise Forbidden("only staff or the job's owner can report on it")
    blocks: list[dict[str, Any]] = (job.analysis.get("details") or {}).get("blocks") or []
    previous: dict[str, Any] = job.checkpoint.get("operator") or {}
    block = next_block if next_block is not None else previous.get("next_block", 1)
    if blocks and not 1 <= block <= len(blocks) + 1:
        raise Invalid(f"next_block must be between 1 and {len(blocks) + 1} (all done)")
    if not blocks and next_block is not None:
        raise Invalid("this job has no colour blocks to report on")
    report: dict[str, Any] = {
        "started_at": previous.get("started_at") or at.isoformat(),
        "reported_at": at.isoformat(),
        "by": f"user:{actor.id}",
        "next_block": block if blocks else None,
        "blocks": len(blocks) or None,
    }
    report.update(block_progress(blocks, block))
    values = {
        "checkpoint": {**job.checkpoint, "operator": report},
        "progress": report.get("progress"),
        "eta_s": report.get("eta_s"),
    }
    if job.state == JobState.starting:
        mark_running(
            session,
            job.id,
            actor=f"user:{actor.id}",
            reason="operator: started on the machine",
            at=at,
            values=values,
        )
    else:
        for key, value in values.items():
            setattr(job, key, value)
        job.updated_at = at
        session.add(job)
    queue_bus_event(
        session,
        "job:progress",
        {
            "job_id": job.id,
            "machine": slug,
            "progress": values["progress"],
            "eta_s": values["eta_s"],
        },
    )
    # Wakes the machine's runner, which hands the report to its driver.
    queue_bus_event(
        session, "job:requested", {"job_id": job.id, "machine": slug, "action": "report"}
    )
    session.commit()
    session.refresh(job)
    return job


def block_progress(blocks: list[dict[str, Any]], next_block: int) -> dict[str, Any]:
    """Share of the stitches done before block ``next_block`` (1-based), the minutes
    left, and the colour to thread next."""
    if not blocks:
        return {}
    stitches = [int(b.get("stitches") or 0) for b in blocks]
    minutes = [float(b.get("minutes") or 0.0) for b in blocks]
    total = sum(stitches) or 1
    done = sum(stitches[: next_block - 1])
    out: dict[str, Any] = {
        "progress": round(done / total, 4),
        "eta_s": round(60.0 * sum(minutes[next_block - 1 :]), 1),
    }
    if next_block <= len(blocks):
        nxt = blocks[next_block - 1]
        out["colour"] = nxt.get("name") or nxt.get("colour")
    return out


def set_material(
    *, session: Session, profiles: ProfileSet, slug: str, material: str | None, at: datetime
) -> MachineRecord:
    record = get_record(session, slug)
    if material is not None:
        profile = profiles.materials.get(material)
        if profile is None:
            raise Invalid(f"no material {material!r}")
        if profile.kind != record.kind:
            raise Invalid(f"{material!r} is not a material for a {record.kind.value}")
        allowed = record.spec.get("materials") or []
        if allowed and material not in allowed:
            raise Invalid(f"{slug} does not take {material!r}; it takes {', '.join(allowed)}")
    record.loaded_material = material
    record.updated_at = at
    session.add(record)
    queue_bus_event(session, "machine:material", {"machine": slug, "material": material})
    session.commit()
    return record


def set_service(
    *, session: Session, slug: str, in_service: bool, at: datetime, actor: User | None = None
) -> MachineRecord:
    """Take a machine out of service (it starts nothing new) or put it back.

    The wish is kept in the database (``out_of_service``): whichever node the request
    came through, the machine's own node obeys it, also when it was down at the time.
    A machine waiting for the operator keeps waiting; the confirmation then leaves it
    stopped."""
    record = get_record(session, slug)
    record.out_of_service = not in_service
    if in_service:
        if record.runner_state == RunnerState.stopped:
            set_runner_state(session, record, RunnerState.accepting, at)
    elif record.runner_state == RunnerState.accepting:
        set_runner_state(session, record, RunnerState.stopped, at)
    record.updated_at = at
    session.add(record)
    session.add(
        MachineEvent(
            machine=slug,
            at=at,
            actor=f"user:{actor.id}" if actor is not None else "system",
            action="start" if in_service else "stop",
            detail=f"runner {record.runner_state.value}",
        )
    )
    session.commit()
    return record
