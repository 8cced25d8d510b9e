"""Machines as the database knows them: records, registration by their node, operator gates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from fabqueue.models import Job, MachinePublic, MachineRecord, Outcome, RunnerState, User
from fabqueue.profiles import MachineProfile, ProfileSet
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound
from fabqueue.states import OCCUPYING_STATES, JobState, queue_bus_event, transition
from jobs.base import MachineKind
from jobs.params import CutterParams, EmbroideryParams, MachineParams, PrinterParams

_PARAMS: dict[MachineKind, type[MachineParams]] = {
    MachineKind.fdm_printer: PrinterParams,
    MachineKind.vinyl_cutter: CutterParams,
    MachineKind.embroidery: EmbroideryParams,
}


def spec_of(profile: MachineProfile, profiles: ProfileSet) -> dict[str, Any]:
    """What every node must know of a machine to accept jobs for it."""
    from drivers.registry import DRIVERS

    caps = DRIVERS[profile.driver_type].default_capabilities
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


def _set_runner(session: Session, record: MachineRecord, state: RunnerState, at: datetime) -> None:
    record.runner_state = state
    record.updated_at = at
    session.add(record)
    queue_bus_event(
        session, "machine:runner", {"machine": record.slug, "runner_state": state.value}
    )


def confirm(
    *, session: Session, slug: str, outcome: Outcome | None, actor: User, at: datetime
) -> Job | None:
    """The operator has been to the machine: the job is off it and judged, or it is clear.

    A job waiting for the operator ends ``succeeded`` (good) or goes back to the queue
    (bad). So does a running job on a machine that cannot tell when it is finished.
    Then the machine takes jobs again.
    """
    record = get_record(session, slug)
    job = occupying_job(session, slug)
    who = f"user:{actor.id}"
    hands_on = not capability(record, "reports_completion")
    if (
        job is not None
        and job.id is not None
        and outcome is not None
        and hands_on
        and job.state == JobState.starting
        and capability(record, "needs_operator_start")
    ):
        # Finished without anyone saying it had started: it did start.
        transition(
            session,
            job.id,
            JobState.running,
            expected=[JobState.starting],
            actor=who,
            reason="operator: finished (start not reported)",
            at=at,
        )
        session.refresh(job)
    finishing = job is not None and (
        job.state == JobState.awaiting_operator or (job.state == JobState.running and hands_on)
    )
    if job is not None and not finishing:
        raise Conflict(
            f"job {job.id} is {job.state.value} on {slug}; it must finish first",
            state=job.state.value,
        )
    if job is not None:
        assert job.id is not None
        if outcome is None:
            raise Invalid("say whether the result is good or bad (outcome)")
        from_state = JobState(job.state)
        if outcome == Outcome.good:
            values: dict[str, Any] = {"outcome": outcome, "finished_at": job.finished_at or at}
            took = _hands_on_duration(job, at) if from_state == JobState.running else None
            if took is not None:
                values["actual_duration_s"] = took
            transition(
                session,
                job.id,
                JobState.succeeded,
                expected=[from_state],
                actor=who,
                reason="operator: good",
                at=at,
                values=values,
            )
        else:
            transition(
                session,
                job.id,
                JobState.queued,
                expected=[from_state],
                actor=who,
                reason="operator: bad, runs again",
                at=at,
                values={
                    "outcome": outcome,
                    "machine": None,
                    "attempt": job.attempt + 1,
                    "progress": None,
                    "eta_s": None,
                    "checkpoint": {},
                    "started_at": None,
                    "finished_at": None,
                },
            )
    elif record.runner_state != RunnerState.awaiting_operator:
        raise Conflict(f"{slug} is not waiting for an operator", state=record.runner_state.value)
    _set_runner(session, record, RunnerState.accepting, at)
    session.commit()
    if job is not None:
        session.refresh(job)
    return job


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
        transition(
            session,
            job.id,
            JobState.running,
            expected=[JobState.starting],
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


def set_service(*, session: Session, slug: str, in_service: bool, at: datetime) -> MachineRecord:
    """Take a machine out of service (it finishes nothing new) or put it back."""
    record = get_record(session, slug)
    if in_service:
        if record.runner_state == RunnerState.stopped:
            _set_runner(session, record, RunnerState.accepting, at)
    elif record.runner_state == RunnerState.accepting:
        _set_runner(session, record, RunnerState.stopped, at)
    session.commit()
    return record
