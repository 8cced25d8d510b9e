"""Job states and the one function that changes them.

Every change of a job's state goes through :func:`transition`: a guarded
``UPDATE … WHERE state IN (expected)`` plus a :class:`~fabqueue.models.JobEvent` row,
in the caller's transaction. Two actors racing for the same job (two runners, a runner
and a facilitator) cannot both win: the loser gets :class:`InvalidTransition`.

The states themselves (:class:`JobState` and its sets) are defined beside the ``Job``
table that stores them and re-exported here, so the model never imports this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, insert, update
from sqlmodel import Session

from fabqueue.events import queue_bus_event
from fabqueue.models.jobs import (
    ACTIVE_STATES,
    OCCUPYING_STATES,
    TERMINAL_STATES,
    WAITING_STATES,
    Job,
    JobEvent,
    JobState,
)
from fabqueue.notify.jobs import job_moved
from fabqueue.reports import figures

__all__ = [
    "ACTIVE_STATES",
    "ALLOWED_TRANSITIONS",
    "OCCUPYING_STATES",
    "TERMINAL_STATES",
    "WAITING_STATES",
    "InvalidTransition",
    "JobState",
    "mark_running",
    "record_creation",
    "requeue_values",
    "transition",
]

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


RUN_ENDS = TERMINAL_STATES | {JobState.queued}
"""Moves that end a run: the job closes, or goes (back) into the queue (the operator
judged it bad, staff requeued it). The run's figures are written with them."""


class InvalidTransition(Exception):
    """The job is not in a state that allows the change (someone else moved it first)."""

    def __init__(self, job_id: int, to: JobState, current: JobState | None) -> None:
        self.job_id = job_id
        self.to = to
        self.current = current
        where = f"it is {current.value}" if current else "it does not exist"
        super().__init__(f"job {job_id} cannot go to {to.value}: {where}")


def mark_running(
    session: Session,
    job_id: int,
    *,
    actor: str,
    reason: str,
    at: datetime,
    values: Mapping[str, Any] | None = None,
) -> JobState:
    """``starting`` -> ``running``: the machine, or a person at it, says the job is under
    way. The only code that decides a job has started; the caller commits."""
    return transition(
        session,
        job_id,
        JobState.running,
        expected=[JobState.starting],
        actor=actor,
        reason=reason,
        at=at,
        values=values,
    )


def requeue_values(job: Job) -> dict[str, Any]:
    """The columns a job gets when it goes back to the queue to run again from the start
    (requeued by staff, judged bad by the operator): a new attempt on any machine."""
    return {
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
    }


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

    if values and "state" in values:
        # The state changes here, guarded and logged, or not at all.
        raise ValueError("transition() sets the state itself: drop 'state' from values")
    updates: dict[str, Any] = {"state": to, "updated_at": at}
    if to in RUN_ENDS:
        # Reports sum these plain columns: reading every job's JSON analysis made a
        # yearly report slow.
        updates.update(figures.columns(current.analysis, current.copies))
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
    # The person's message is written with the move, so neither exists without the other.
    job_moved(session, job_id, to, at)
    return from_state


def record_creation(session: Session, job: Job, *, actor: str, at: datetime) -> None:
    """Write the first event of a new job (from no state to its initial one)."""
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
