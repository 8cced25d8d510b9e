"""Job states and the one function that changes them.

Every change of a job's state goes through :func:`transition`: a guarded
``UPDATE … WHERE state IN (expected)`` plus a :class:`~fabqueue.models.JobEvent` row,
in the caller's transaction. Two actors racing for the same job (two runners, a runner
and a facilitator) cannot both win: the loser gets :class:`InvalidTransition`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, insert, update

if TYPE_CHECKING:
    from sqlmodel import Session

    from fabqueue.models.jobs import Job


class JobState(StrEnum):
    draft = "draft"
    """Waiting for a quote to be accepted, or for staff to review it."""
    queued = "queued"
    """Ready to run on the first suitable machine."""
    held = "held"
    """Kept out of the queue (material not in stock, waiting for the customer…)."""
    starting = "starting"
    """Claimed by a machine; the driver is sending or delivering it."""
    running = "running"
    paused = "paused"
    awaiting_operator = "awaiting_operator"
    """Finished on the machine; waiting for a person to take it off and judge it."""
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"
    """Was active when the node died or the machine vanished; staff resume or requeue it."""


ACTIVE_STATES = frozenset({JobState.starting, JobState.running, JobState.paused})
"""The machine is working on the job."""

OCCUPYING_STATES = ACTIVE_STATES | {JobState.awaiting_operator}
"""The job holds its machine: at most one such job per machine (partial unique index)."""

TERMINAL_STATES = frozenset({JobState.succeeded, JobState.failed, JobState.cancelled})

WAITING_STATES = frozenset({JobState.draft, JobState.queued, JobState.held})

ALLOWED_TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    JobState.draft: frozenset({JobState.queued, JobState.held, JobState.cancelled}),
    JobState.queued: frozenset({JobState.held, JobState.starting, JobState.cancelled}),
    JobState.held: frozenset({JobState.queued, JobState.cancelled}),
    # starting -> queued: the machine went away before it took the job (nothing made).
    JobState.starting: frozenset(
        {
            JobState.running,
            JobState.queued,
            JobState.failed,
            JobState.cancelled,
            JobState.interrupted,
        }
    ),
    # running -> succeeded/queued: an operator finishing a job on a machine that
    # cannot report completion itself (embroidery delivered on a USB stick).
    JobState.running: frozenset(
        {
            JobState.paused,
            JobState.awaiting_operator,
            JobState.succeeded,
            JobState.queued,
            JobState.failed,
            JobState.cancelled,
            JobState.interrupted,
        }
    ),
    JobState.paused: frozenset(
        {JobState.running, JobState.failed, JobState.cancelled, JobState.interrupted}
    ),
    # awaiting_operator -> queued: the operator judged the result bad; it runs again.
    JobState.awaiting_operator: frozenset({JobState.succeeded, JobState.queued}),
    JobState.succeeded: frozenset(),
    JobState.failed: frozenset({JobState.queued}),
    JobState.cancelled: frozenset({JobState.queued}),
    # interrupted -> starting: resumed on the same machine from its checkpoint.
    JobState.interrupted: frozenset(
        {JobState.queued, JobState.starting, JobState.failed, JobState.cancelled}
    ),
}


class InvalidTransition(Exception):
    """The job is not in a state that allows the change (someone else moved it first)."""

    def __init__(self, job_id: int, to: JobState, current: JobState | None) -> None:
        self.job_id = job_id
        self.to = to
        self.current = current
        where = f"it is {current.value}" if current else "it does not exist"
        super().__init__(f"job {job_id} cannot go to {to.value}: {where}")


PENDING_EVENTS_KEY = "fabqueue.pending_events"
"""Session.info key: bus messages published once the transaction commits."""


def queue_bus_event(session: Session, topic: str, payload: dict[str, Any]) -> None:
    """Publish ``topic`` on the event bus after this session commits (dropped on rollback)."""
    session.info.setdefault(PENDING_EVENTS_KEY, []).append((topic, payload))


def transition(
    session: Session,
    job_id: int,
    to: JobState,
    *,
    expected: Iterable[JobState],
    actor: str,
    reason: str | None = None,
    at: datetime,
    values: Mapping[str, Any] | None = None,
) -> JobState:
    """Move job ``job_id`` to ``to`` if it is in one of ``expected``; return its old state.

    ``values`` are other columns set by the same UPDATE (machine, outcome, timestamps…).
    Raises :class:`InvalidTransition` when the guard fails; raises ``ValueError`` when
    ``expected`` names a state from which ``to`` is never allowed (a programming error).
    The caller commits.
    """
    from fabqueue.models.jobs import Job, JobEvent

    allowed_from = [s for s in expected if to in ALLOWED_TRANSITIONS[s]]
    if not allowed_from or len(allowed_from) != len(set(expected)):
        bad = sorted(s.value for s in set(expected) - set(allowed_from))
        raise ValueError(f"transition to {to.value} is not allowed from {bad}")

    current = session.get(Job, job_id, populate_existing=True)
    if current is None:
        raise InvalidTransition(job_id, to, None)
    from_state = JobState(current.state)
    if from_state not in allowed_from:
        raise InvalidTransition(job_id, to, from_state)

    updates: dict[str, Any] = {"state": to, "updated_at": at}
    if values:
        updates.update(values)
    # The guard repeats the state read above: between the read and this UPDATE another
    # transaction may have moved the job, and then zero rows match.
    result = session.execute(
        update(Job)
        .where(Job.id == job_id)  # type: ignore[arg-type]
        .where(Job.state == from_state)  # type: ignore[arg-type]
        .values(**updates)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        session.expire(current)
        latest = session.get(Job, job_id)
        raise InvalidTransition(job_id, to, JobState(latest.state) if latest else None)

    session.add(
        JobEvent(
            job_id=job_id, from_state=from_state, to_state=to, at=at, actor=actor, reason=reason
        )
    )
    session.flush()
    session.expire(current)
    queue_bus_event(
        session,
        "job:state_changed",
        {
            "job_id": job_id,
            "from": from_state.value,
            "to": to.value,
            "kind": current.kind,
            "machine": updates.get("machine", current.machine),
            "actor": actor,
            "reason": reason,
            "at": at.isoformat(),
        },
    )
    return from_state


def record_creation(session: Session, job: Job, *, actor: str, at: datetime) -> None:
    """Write the first event of a new job (from no state to its initial one)."""
    from fabqueue.models.jobs import JobEvent

    assert job.id is not None
    # A plain INSERT: submissions are the hot path, and nothing reads this row back here.
    session.execute(
        insert(JobEvent).values(
            job_id=job.id, from_state=None, to_state=job.state, at=at, actor=actor
        )
    )
    queue_bus_event(
        session,
        "job:state_changed",
        {
            "job_id": job.id,
            "from": None,
            "to": JobState(job.state).value,
            "kind": job.kind,
            "machine": job.target_machine,
            "actor": actor,
            "reason": "submitted",
            "at": at.isoformat(),
        },
    )
