"""Jobs written straight into the database, in any state, for tests (and benchmarks) of
what reads them: lists, searches, pages. Nothing here moves a job: a test of a move uses
``tests/support/jobs.run_job`` or the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Job, StoredFile
from fabqueue.states import JobState
from jobs.base import MachineKind

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SHA = "b" * 64
STICKER = {"kind": "vinyl_cutter", "file_type": "svg", "analyzer": "svg", "duration_s": 360.0}


def add_file(sessions: SessionFactory, sha256: str = SHA) -> None:
    with session_scope(sessions) as s:
        if s.get(StoredFile, sha256) is None:
            s.add(StoredFile(sha256=sha256, size=1, created_at=T0))


def job_row(
    owner: int,
    state: JobState = JobState.queued,
    *,
    at: datetime,
    file: str = "sticker.svg",
    **fields: Any,
) -> Job:
    """A vinyl sticker's job as submit_job would have written it, in ``state``."""
    values: dict[str, Any] = {
        "kind": MachineKind.vinyl_cutter,
        "material": "vinyle-noir",
        "owner_id": owner,
        "title": file,
        "file_sha256": SHA,
        "file_name": file,
        "file_type": "svg",
        "file_size": 1,
        "analysis": STICKER,
        "state": state,
        "created_at": at,
        "updated_at": at,
        **fields,
    }
    if state in (JobState.succeeded, JobState.failed, JobState.cancelled):
        values.setdefault("finished_at", at + timedelta(minutes=6))
    return Job(**values)


def add_job(
    sessions: SessionFactory,
    owner: int,
    state: JobState = JobState.queued,
    *,
    at: datetime = T0,
    **fields: Any,
) -> int:
    add_file(sessions)
    with session_scope(sessions) as s:
        return _insert(s, job_row(owner, state, at=at, **fields))


def _insert(session: Session, job: Job) -> int:
    session.add(job)
    session.flush()
    assert job.id is not None
    return job.id
