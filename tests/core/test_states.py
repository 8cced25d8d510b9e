"""The job state machine: the table, the guard, the event log."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from fabqueue.auth import create_user
from fabqueue.db import session_scope
from fabqueue.models import Job, JobEvent, Role, StoredFile
from fabqueue.states import (
    ACTIVE_STATES,
    ALLOWED_TRANSITIONS,
    TERMINAL_STATES,
    InvalidTransition,
    JobState,
    record_creation,
    requeue_values,
    transition,
)
from jobs.base import MachineKind

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def new_job(sessions, state: JobState = JobState.queued, machine: str | None = None) -> int:
    with session_scope(sessions) as s:
        user = s.exec(select(Job.owner_id)).first()
        if user is None:
            user = create_user(session=s, name="owner", role=Role.member, at=T0).id
        if s.get(StoredFile, "a" * 64) is None:
            s.add(StoredFile(sha256="a" * 64, size=1, created_at=T0))
        job = Job(
            kind=MachineKind.fdm_printer,
            owner_id=user,
            title="t",
            file_sha256="a" * 64,
            file_name="t.gcode",
            file_type="gcode",
            file_size=1,
            state=state,
            machine=machine,
            created_at=T0,
            updated_at=T0,
        )
        s.add(job)
        s.flush()
        record_creation(s, job, actor="test", at=T0)
        assert job.id is not None
        return job.id


def test_table_shape() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(JobState)
    assert ALLOWED_TRANSITIONS[JobState.succeeded] == frozenset()
    for state in TERMINAL_STATES - {JobState.succeeded}:
        assert ALLOWED_TRANSITIONS[state] == {JobState.queued}  # requeue only
    for state in ACTIVE_STATES:
        assert JobState.interrupted in ALLOWED_TRANSITIONS[state]
    assert JobState.starting not in ALLOWED_TRANSITIONS[JobState.held]


def test_transition_updates_and_logs(sessions) -> None:
    job_id = new_job(sessions)
    with session_scope(sessions) as s:
        old = transition(
            s,
            job_id,
            JobState.held,
            expected=[JobState.queued],
            actor="user:1",
            reason="waiting for PETG",
            at=T0,
        )
        assert old == JobState.queued
    with session_scope(sessions) as s:
        assert s.get(Job, job_id).state == JobState.held
        events = s.exec(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
        ).all()
        assert [(e.from_state, e.to_state) for e in events] == [
            (None, JobState.queued),
            (JobState.queued, JobState.held),
        ]
        assert events[-1].reason == "waiting for PETG"
        assert events[-1].at == T0 and events[-1].at.tzinfo is not None


def test_guard_refuses_a_job_in_another_state(sessions) -> None:
    job_id = new_job(sessions, JobState.held)
    with session_scope(sessions) as s, pytest.raises(InvalidTransition) as err:
        transition(s, job_id, JobState.starting, expected=[JobState.queued], actor="m", at=T0)
    assert err.value.current == JobState.held
    with session_scope(sessions) as s:
        assert len(s.exec(select(JobEvent).where(JobEvent.job_id == job_id)).all()) == 1


def test_disallowed_transition_is_a_programming_error(sessions) -> None:
    job_id = new_job(sessions)
    with session_scope(sessions) as s, pytest.raises(ValueError):
        transition(s, job_id, JobState.succeeded, expected=[JobState.queued], actor="m", at=T0)


def test_unknown_job(sessions) -> None:
    with session_scope(sessions) as s, pytest.raises(InvalidTransition) as err:
        transition(s, 12345, JobState.held, expected=[JobState.queued], actor="m", at=T0)
    assert err.value.current is None


def test_two_claimers_one_winner(sessions) -> None:
    """Threads racing to claim the same job: exactly one transition succeeds."""
    job_id = new_job(sessions)
    wins: list[str] = []
    losses: list[str] = []
    barrier = threading.Barrier(8)

    def claim(name: str) -> None:
        barrier.wait()
        try:
            with session_scope(sessions) as s:
                transition(
                    s,
                    job_id,
                    JobState.starting,
                    expected=[JobState.queued],
                    actor=name,
                    at=T0,
                    values={"machine": name},
                )
            wins.append(name)
        except InvalidTransition:
            losses.append(name)

    threads = [threading.Thread(target=claim, args=(f"m{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 7
    with session_scope(sessions) as s:
        assert s.get(Job, job_id).machine == wins[0]
        assert len(s.exec(select(JobEvent).where(JobEvent.job_id == job_id)).all()) == 2


def test_one_occupying_job_per_machine_is_enforced_by_the_database(sessions) -> None:
    new_job(sessions, JobState.running, machine="p1")
    new_job(sessions, JobState.queued, machine="p1")  # queued jobs do not occupy
    other = new_job(sessions, JobState.queued)
    with pytest.raises(IntegrityError), session_scope(sessions) as s:
        transition(
            s,
            other,
            JobState.starting,
            expected=[JobState.queued],
            actor="m",
            at=T0,
            values={"machine": "p1"},
        )
    with session_scope(sessions) as s:  # rolled back: nothing changed, no event
        assert s.get(Job, other).state == JobState.queued
        assert len(s.exec(select(JobEvent).where(JobEvent.job_id == other)).all()) == 1


def test_naive_datetimes_are_refused(sessions) -> None:
    job_id = new_job(sessions)
    with pytest.raises(Exception, match="naive"), session_scope(sessions) as s:
        transition(
            s, job_id, JobState.held, expected=[JobState.queued], actor="m", at=datetime(2026, 1, 1)
        )


def test_transition_refuses_a_state_among_the_values(sessions) -> None:
    job_id = new_job(sessions)
    with session_scope(sessions) as s, pytest.raises(ValueError, match="drop 'state'"):
        transition(
            s,
            job_id,
            JobState.held,
            expected=[JobState.queued],
            actor="test",
            at=T0,
            values={"state": JobState.running},
        )
    with session_scope(sessions) as s:
        assert s.get(Job, job_id).state == JobState.queued
        assert len(s.exec(select(JobEvent).where(JobEvent.job_id == job_id)).all()) == 1


def test_requeue_values_start_a_fresh_attempt(sessions) -> None:
    job_id = new_job(sessions, JobState.failed, machine="printer")
    with session_scope(sessions) as s:
        job = s.get(Job, job_id)
        job.attempt = 2
        job.checkpoint = {"progress": 0.5}
        values = requeue_values(job)
        transition(
            s, job_id, JobState.queued, expected=[JobState.failed], actor="t", at=T0, values=values
        )
    with session_scope(sessions) as s:
        job = s.get(Job, job_id)
        assert (job.state, job.machine, job.attempt, job.checkpoint) == (
            JobState.queued,
            None,
            3,
            {},
        )
