"""Moving a job the way the runner and the operator would, for tests without a
dispatcher: every step through ``transition()``, each with its event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from fabqueue.models import Job
from fabqueue.states import JobState, mark_running, transition

_BY_MACHINE = "machine:{}"


def run_job(
    session: Session,
    job_id: int,
    to: JobState,
    *,
    machine: str,
    at: datetime,
    values: dict[str, Any] | None = None,
) -> None:
    """Take a waiting job through ``starting`` and ``running`` on ``machine`` to ``to``
    (``awaiting_operator``, ``succeeded`` by way of it, ``failed``, ``cancelled`` or
    ``interrupted``); ``values`` go with the last step. The caller commits."""
    job = session.get(Job, job_id)
    assert job is not None
    actor = _BY_MACHINE.format(machine)
    if job.state in (JobState.held, JobState.draft):
        transition(session, job_id, JobState.queued, expected=[job.state], actor="test", at=at)
    transition(
        session,
        job_id,
        JobState.starting,
        expected=[JobState.queued],
        actor=actor,
        reason="claimed",
        at=at,
        values={"machine": machine, "started_at": at},
    )
    mark_running(session, job_id, actor=actor, reason="machine started", at=at)
    steps = [to]
    if to == JobState.succeeded:
        steps = [JobState.awaiting_operator, JobState.succeeded]
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        transition(
            session,
            job_id,
            step,
            expected=[JobState.running if i == 0 else steps[i - 1]],
            actor=actor if step != JobState.succeeded else "test:operator",
            reason="finished",
            at=at,
            values=values if last else None,
        )
